// petrel-controller: the sandbox's cluster-wide controllers — a round-robin scheduler that binds
// pods without a node to Ready nodes, and the EndpointSlice controller for Services with a
// selector.
//   petrel-controller --kubeconfig PATH [-v]
// SIGTERM/SIGINT stop it within a second.

#include <atomic>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "k8s/cluster_config.h"
#include "tools/sandbox/common/signals.h"
#include "tools/sandbox/controller/controller.h"

int main(int argc, char** argv) {
  CLI::App app{"petrel-controller: scheduler and EndpointSlice controller of the Petrel sandbox"};
  std::string kubeconfig;
  bool verbose = false;
  int resyncSeconds = 30;
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig of the cluster")->required();
  app.add_option("--resync", resyncSeconds, "seconds between full passes")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "debug logging");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  petrel::sandbox::TerminationSignals signals;

  auto config = petrel::k8s::loadKubeconfig(kubeconfig);
  if (!config) {
    std::cerr << "petrel-controller: " << config.status().toString() << "\n";
    return 1;
  }
  petrel::controller::ControllerOptions options;
  options.resync = std::chrono::seconds(resyncSeconds);
  petrel::controller::Controller controller(std::move(*config), options);
  std::atomic<bool> stop{false};
  signals.onSignal([&](int sig) {
    spdlog::info("petrel-controller: signal {}, stopping", sig);
    stop = true;
    controller.wake();
  });
  spdlog::info("petrel-controller: watching {}", kubeconfig);
  controller.run(stop);
  spdlog::info("petrel-controller: stopped");
  return 0;
}
