// petrel-test-identity: allocates the identity of one set of security labels with the agent's
// allocator (core::allocateIdentity over the API's PetrelIdentity objects) against a real API
// server, for test/e2e/identity_test.cc:
//
//   petrel-test-identity --kubeconfig F --namespace NS [--service-account SA] [--label k=v]...
//
// Prints {"identity": N} on stdout; on failure the error on stderr, exit 1.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "agent/core/identity_allocation.h"
#include "agent/daemon/api_identity_store.h"
#include "k8s/cluster_config.h"
#include "k8s/rest_client.h"

int main(int argc, char** argv) {
  CLI::App app{"Allocates one identity through the API (e2e test tool)"};
  std::string kubeconfig, ns, service_account;
  std::vector<std::string> label_args;
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig of the API server");
  app.add_option("--namespace", ns, "the pod's namespace")->required();
  app.add_option("--service-account", service_account, "the pod's service account");
  app.add_option("--label", label_args, "a pod label key=value (repeatable)");
  CLI11_PARSE(app, argc, argv);

  std::map<std::string, std::string> pod_labels;
  for (const auto& arg : label_args) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos) {
      std::cerr << "--label " << arg << ": want key=value\n";
      return 2;
    }
    pod_labels[arg.substr(0, eq)] = arg.substr(eq + 1);
  }
  const auto labels = petrel::core::securityLabels(pod_labels, ns, {}, service_account);
  auto config = petrel::k8s::loadKubeconfig(kubeconfig);
  if (!config) {
    std::cerr << config.status().message() << "\n";
    return 1;
  }
  petrel::k8s::RestClient client(std::move(*config));
  petrel::agent::ApiIdentityStore store(client);
  auto identity = petrel::core::allocateIdentity(store, labels);
  if (!identity) {
    std::cerr << identity.status().message() << "\n";
    return 1;
  }
  std::cout << nlohmann::json{{"identity", *identity}} << std::endl;
  return 0;
}
