// petrel-cni: the CNI 1.1.0 plugin binary. Reads CNI_* from the environment and the network
// config from stdin, prints the result or the spec's error object, and exits with its code.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>

#include "cni-plugin/plugin.h"

int main() {
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto network = petrel::cni::makeLinuxPodNetwork();
  petrel::cni::Plugin plugin(*network);
  petrel::cni::Outcome out = plugin.run([](const char* key) { return std::getenv(key); }, input);
  if (!out.output.empty()) std::cout << out.output << std::endl;
  return out.exit_code;
}
