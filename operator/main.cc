// petrel-operator: Petrel's cluster-wide controller. Installs Petrel's CRDs and gives every Node
// a pod CIDR from the cluster pool, recorded in its PetrelNode; one replica acts at a time,
// chosen through a coordination.k8s.io/v1 Lease. See operator/README.md.
//   petrel-operator [--kubeconfig PATH] --cluster-pool-cidr 10.244.0.0/16 --node-cidr-mask 24
//                   [--lease-name N] [--lease-namespace NS] [--identity ID] [--lease-duration S]
//                   [--renew-deadline S] [--retry-period S] [--resync S] [-v]
// Without --kubeconfig it uses the in-cluster configuration (KUBERNETES_SERVICE_HOST).
// SIGTERM/SIGINT: a leader releases the Lease, then the process exits 0.

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "k8s/cluster_config.h"
#include "operator/operator.h"
#include "tools/sandbox/common/signals.h"

namespace {

std::string defaultIdentity() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof(host), "petrel-operator");
  }
  return std::string(host) + "-" + std::to_string(getpid());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"petrel-operator: pod-CIDR allocation and CRD installation for Petrel"};
  std::string kubeconfig;
  std::string pool_cidr;
  int node_mask = 24;
  petrel::op::OperatorOptions options;
  options.election.identity = defaultIdentity();
  int lease_duration = 15;
  int renew_deadline = 10;
  int retry_period = 2;
  int resync = 30;
  bool verbose = false;
  app.add_option("--kubeconfig", kubeconfig,
                 "kubeconfig of the cluster (default: in-cluster configuration)");
  app.add_option("--cluster-pool-cidr", pool_cidr, "IPv4 pool the node pod CIDRs come from")
      ->required();
  app.add_option("--node-cidr-mask", node_mask, "prefix length of each node's pod CIDR")
      ->capture_default_str();
  app.add_option("--lease-name", options.lease_name, "Lease used for leader election")
      ->capture_default_str();
  app.add_option("--lease-namespace", options.lease_namespace, "namespace of the Lease")
      ->capture_default_str();
  app.add_option("--identity", options.election.identity, "this replica's holder identity")
      ->capture_default_str();
  app.add_option("--lease-duration", lease_duration,
                 "seconds a candidate waits on an unrenewed lease before taking it")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--renew-deadline", renew_deadline,
                 "seconds the leader keeps acting without a successful renewal")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--retry-period", retry_period, "seconds between election rounds")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--resync", resync, "seconds between full allocation passes")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "debug logging");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  auto pool = petrel::op::CidrPool::create(pool_cidr, node_mask);
  if (!pool) {
    std::cerr << "petrel-operator: " << pool.status().message() << "\n";
    return 2;
  }
  options.election.lease_duration = std::chrono::seconds(lease_duration);
  options.election.renew_deadline = std::chrono::seconds(renew_deadline);
  options.election.retry_period = std::chrono::seconds(retry_period);
  options.resync = std::chrono::seconds(resync);
  if (auto st = petrel::op::validate(options.election); !st) {
    std::cerr << "petrel-operator: " << st.message() << "\n";
    return 2;
  }

  petrel::sandbox::TerminationSignals signals;

  petrel::Result<petrel::k8s::ClusterConfig> config =
      petrel::Status(petrel::Code::kInvalidArgument,
                     "no --kubeconfig given and not in a cluster (KUBERNETES_SERVICE_HOST unset)");
  if (!kubeconfig.empty()) {
    config = petrel::k8s::loadKubeconfig(kubeconfig);
  } else if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST"); host && *host) {
    config = petrel::k8s::loadInCluster();
  }
  if (!config) {
    std::cerr << "petrel-operator: " << config.status().message() << "\n";
    return 1;
  }
  const uint64_t capacity = pool->capacity();
  petrel::op::Operator op(std::move(*config), options, std::move(*pool));
  std::atomic<bool> stop{false};
  signals.onSignal([&](int sig) {
    spdlog::info("petrel-operator: signal {}, stopping", sig);
    stop = true;
    op.wake();
  });
  spdlog::info("petrel-operator: identity {}, pool {} in /{}s ({} node CIDRs), lease {}/{}",
               options.election.identity, pool_cidr, node_mask, capacity, options.lease_namespace,
               options.lease_name);
  op.run(stop);
  spdlog::info("petrel-operator: stopped");
  return 0;
}
