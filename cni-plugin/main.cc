// petrel-cni: the CNI 1.1.0 plugin binary. Reads CNI_* from the environment and the network
// config from stdin, prints the result or the spec's error object, and exits with its code.
// Run with arguments and without CNI_COMMAND (`petrel-cni install ...`), it is the node
// installer instead (cni-plugin/node_install.h).
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cni-plugin/node_install.h"
#include "cni-plugin/plugin.h"

namespace {
std::string readStdin() {
  std::string input;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n > 0) {
      input.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      return input;
    }
  }
}
}  // namespace

int main(int argc, char** argv) {
  // Runtimes pass no arguments and always set CNI_COMMAND.
  if (argc > 1 && std::getenv("CNI_COMMAND") == nullptr) {
    return petrel::cni::runNodeInstaller(argc, argv, std::cout, std::cerr);
  }
  std::string input = readStdin();
  auto network = petrel::cni::makeLinuxPodNetwork();
  petrel::cni::Plugin plugin(*network);
  petrel::cni::Outcome out = plugin.run([](const char* key) { return std::getenv(key); }, input);
  if (!out.output.empty()) std::cout << out.output << std::endl;
  return out.exit_code;
}
