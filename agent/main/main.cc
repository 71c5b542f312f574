// petrel-agent: the per-node daemon. main() is wiring only: flags into Options, the stop
// signals, and a Daemon (agent/daemon/daemon.h) that owns every part; at a stop, the uninstall
// check (agent/daemon/uninstall_check.h). `petrel-agent cleanup` removes what agents made on the
// node (agent/daemon/node_cleanup.h).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "agent/daemon/daemon.h"
#include "agent/daemon/daemonset_watch.h"
#include "agent/daemon/node_cleanup.h"
#include "agent/daemon/options.h"
#include "agent/daemon/uninstall_check.h"
#include "common/version.h"

namespace {

// Runs the node cleanup, each line on stdout or (in the agent) in the log; 0 when nothing failed.
int runCleanup(const petrel::agent::CleanupOptions& options, bool to_log) {
  petrel::datapath::CleanupReport report([to_log](bool failure, std::string_view line) {
    if (!to_log) {
      std::fprintf(failure ? stderr : stdout, "%.*s\n", static_cast<int>(line.size()), line.data());
    } else if (failure) {
      spdlog::error("cleanup: {}", line);
    } else {
      spdlog::info("cleanup: {}", line);
    }
  });
  petrel::agent::cleanupNode(options, report);
  if (to_log) {
    spdlog::info("cleanup: {}", report.summary());
  } else {
    std::printf("%s\n", report.summary().c_str());
  }
  return report.ok() ? 0 : 1;
}

// `petrel-agent cleanup` and its flags, into `o` (which holds the defaults).
CLI::App* addCleanupCommand(CLI::App& app, petrel::agent::CleanupOptions& o) {
  CLI::App* cleanup = app.add_subcommand(
      "cleanup",
      "Remove everything Petrel agents made on this node, in this network namespace: Petrel's "
      "tc and XDP programs on every link, the socket LB cgroup links, the routes to other "
      "nodes' pod CIDRs, the petrel_vxlan and petrel_host/petrel_net devices, the pins under "
      "--bpf-root, the agent's state files and socket, and, when the CNI flags are given, the "
      "CNI config and plugin. Stop the agent first. Prints one line per thing removed; "
      "idempotent; exits 1 if anything could not be removed. Pods lose their network.");
  cleanup->add_option("--bpf-root", o.bpf_root, "bpffs directory of the pinned maps")
      ->capture_default_str();
  cleanup->add_option("--state-dir", o.state_dir, "The agent's state directory")
      ->capture_default_str();
  cleanup->add_option("--socket", o.socket, "The agent's API socket")->capture_default_str();
  cleanup->add_option("--cni-conf-dir", o.cni_conf_dir,
                      "CNI config directory to remove Petrel's config from, e.g. "
                      "/etc/cni/net.d; default: leave the CNI config");
  cleanup->add_option("--cni-bin-dir", o.cni_bin_dir,
                      "CNI binary directory to remove petrel-cni from, e.g. /opt/cni/bin; "
                      "default: leave it");
  cleanup->add_option("--cni-conf-name", o.cni_conf_name, "File name of Petrel's CNI config")
      ->capture_default_str();
  return cleanup;
}

bool mustBeRoot() {
  if (geteuid() == 0) return true;
  spdlog::critical(
      "petrel-agent must run as root (it loads BPF programs and configures interfaces)");
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  petrel::agent::Options opt;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  opt.node_name = host;

  CLI::App app{"petrel-agent: Petrel's per-node eBPF datapath agent"};
  app.add_option("--node-name", opt.node_name, "Name of this node")->capture_default_str();
  app.add_option("--pod-cidr", opt.pod_cidr,
                 "This node's pod CIDR, e.g. 10.244.0.0/24; default: from the API (this node's "
                 "PetrelNode spec.ipam.podCIDRs, else its Node spec.podCIDR)");
  app.add_option("--bpf-root", opt.bpf_root, "bpffs directory for pinned maps")
      ->capture_default_str();
  app.add_option("--state-dir", opt.state_dir, "Directory for durable agent state")
      ->capture_default_str();
  app.add_option("--socket", opt.socket, "Unix socket of the local API")->capture_default_str();
  app.add_option("--mtu", opt.mtu,
                 "MTU of pod interfaces; default: the default route's device MTU, minus 50 "
                 "in tunnel mode")
      ->check(CLI::Range(576, 65535));
  app.add_option("--routing-mode", opt.routing_mode,
                 "tunnel: other nodes' pods through a VXLAN overlay; native: routes to other "
                 "nodes' pod CIDRs via their node addresses (nodes share a network)")
      ->check(CLI::IsMember({"tunnel", "native"}))
      ->capture_default_str();
  app.add_option("--vxlan-mode", opt.vxlan_mode,
                 "The overlay device in tunnel mode. collect-md: an external device, each "
                 "packet's tunnel key set by BPF with the source identity as the VNI; classic: "
                 "one VNI and a forwarding entry per node, the source identity in the VXLAN-GBP "
                 "policy id")
      ->check(CLI::IsMember({"classic", "collect-md"}))
      ->capture_default_str();
  app.add_option("--tunnel-port", opt.tunnel_port, "UDP port of the VXLAN overlay")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  app.add_option("--cgroup-root", opt.cgroup_root,
                 "cgroup v2 directory whose processes get socket-level Service load balancing; "
                 "default: the cgroup2 mount (mounted at /run/petrel/cgroupv2 when there is "
                 "none)");
  app.add_option("--enable-masquerade", opt.masquerade,
                 "Give pod traffic that leaves the cluster the node's address (BPF, on the "
                 "default route's device)")
      ->capture_default_str();
  app.add_option("--masquerade-port-range", opt.masquerade_ports,
                 "Node ports masqueraded flows get, MIN-MAX; outside the node's own ephemeral "
                 "ports")
      ->capture_default_str();
  app.add_option("--maglev-table-size", opt.maglev_table_size,
                 "Entries of each Maglev table (a prime) used to choose backends for traffic "
                 "from outside")
      ->capture_default_str();
  app.add_option("--lb-acceleration", opt.lb_acceleration,
                 "XDP fast path for Service traffic from outside on the uplink: native "
                 "(required), best-effort (where the driver supports it; not on veths) or "
                 "disabled (tc only)")
      ->check(CLI::IsMember({"native", "best-effort", "disabled"}))
      ->capture_default_str();
  app.add_option("--full-pass-interval", opt.full_pass_seconds,
                 "Seconds between datapath repair passes")
      ->capture_default_str();
  app.add_option("--kubeconfig", opt.kubeconfig,
                 "kubeconfig of the cluster; without it the agent uses in-cluster config when "
                 "KUBERNETES_SERVICE_HOST is set, else runs standalone");
  app.add_option("--log-level", opt.log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  app.add_option("--cleanup-on-uninstall", opt.cleanup_on_uninstall,
                 "When stopped as a DaemonSet's pod (env POD_NAME and POD_NAMESPACE set) whose "
                 "DaemonSet is gone or being deleted (an uninstall), remove everything Petrel "
                 "made on the node, as `petrel-agent cleanup` does, CNI config included; while "
                 "the DaemonSet exists (an upgrade or restart), or when the API cannot tell, "
                 "keep it all")
      ->capture_default_str();
  app.add_option("--cni-conf-dir", opt.cni_conf_dir,
                 "The host's CNI config directory as mounted in the agent's container (for "
                 "--cleanup-on-uninstall)")
      ->capture_default_str();
  app.add_option("--cni-bin-dir", opt.cni_bin_dir,
                 "The host's CNI binary directory as mounted in the agent's container (for "
                 "--cleanup-on-uninstall)")
      ->capture_default_str();
  app.add_option("--cni-conf-name", opt.cni_conf_name, "File name of Petrel's CNI config")
      ->capture_default_str();

  petrel::agent::CleanupOptions cleanup_opt;
  cleanup_opt.bpf_root = opt.bpf_root;
  cleanup_opt.state_dir = opt.state_dir;
  cleanup_opt.socket = opt.socket;
  CLI::App* cleanup = addCleanupCommand(app, cleanup_opt);
  app.set_version_flag("--version",
                       std::string(petrel::kVersion) + " (" + petrel::kGitCommit + ")");
  CLI11_PARSE(app, argc, argv);
  opt.in_cluster = std::getenv("KUBERNETES_SERVICE_HOST") != nullptr;
  if (const char* name = std::getenv("POD_NAME")) opt.pod_name = name;
  if (const char* ns = std::getenv("POD_NAMESPACE")) opt.pod_namespace = ns;

  spdlog::set_level(spdlog::level::from_str(opt.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  if (!mustBeRoot()) return 1;
  if (*cleanup) return runCleanup(cleanup_opt, false);

  // Block the stop signals in every thread; this one waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // From the start, while the agent's credentials work: `helm uninstall` deletes them right
  // after the DaemonSet.
  auto own_daemonset = petrel::agent::DaemonSetWatch::start(opt);
  auto daemon = std::make_unique<petrel::agent::Daemon>(opt);
  if (auto st = daemon->start(stop_signals); !st) {
    spdlog::critical("{}", st.toString());
    return 1;
  }
  if (!daemon->stopped()) {  // else stopped while waiting for the pod CIDR
    int sig = 0;
    while (sig != SIGTERM && sig != SIGINT) sig = sigwaitinfo(&stop_signals, nullptr);
    spdlog::info("signal {}: stopping", sig);
  }
  daemon.reset();  // every thread ends; nothing writes the datapath any more
  if (own_daemonset && own_daemonset->deleted()) {
    spdlog::warn(
        "{} was deleted while this agent ran: uninstall, removing this node's Petrel "
        "datapath, pins, state and CNI config",
        own_daemonset->ref());
    own_daemonset.reset();
    return runCleanup(petrel::agent::cleanupOptionsFor(opt), true);
  }
  own_daemonset.reset();
  if (petrel::agent::checkUninstall(opt).decision == petrel::agent::UninstallDecision::kUninstall) {
    return runCleanup(petrel::agent::cleanupOptionsFor(opt), true);
  }
  spdlog::info("stopped (pods stay connected; programs and maps remain)");
  return 0;
}
