// petrel-kubelet: the sandbox's kubelet stand-in for one node. petrel-sandbox starts it inside
// the node's network namespace; it runs the node's pods as processes in their own namespaces,
// wired by the real CNI plugins, and reports them to the API server.
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "k8s/cluster_config.h"
#include "tools/sandbox/common/process.h"
#include "tools/sandbox/common/signals.h"
#include "tools/sandbox/kubelet/kubelet.h"

int main(int argc, char** argv) {
  CLI::App app{"petrel-kubelet: runs a sandbox node's pods as processes in network namespaces"};
  petrel::sandbox::KubeletOptions options;
  auto& rt = options.runtime;
  std::string kubeconfig;
  std::string log_level = "info";
  app.add_option("--node-name", rt.node_name, "This node's name")->required();
  app.add_option("--node-ip", rt.node_ip, "This node's InternalIP")->required();
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig of the API server")->required();
  app.add_option("--state-dir", rt.state_dir, "Pod records and container logs")->required();
  app.add_option("--cni-conf-dir", rt.cni_conf_dir, "CNI network configs (/etc/cni/net.d)")
      ->required();
  app.add_option("--cni-bin-dir", rt.cni_bin_dir, "CNI plugin directories, :-separated (CNI_PATH)")
      ->required();
  app.add_option("--netns-prefix", rt.netns_prefix,
                 "Pod network namespaces are /run/netns/<prefix><namespace>-<name>")
      ->default_val("pod-");
  app.add_option("--pod-cidr", options.pod_cidr, "Reported as the Node's spec.podCIDR");
  app.add_option("--cgroup-parent", rt.cgroup_dir,
                 "cgroup v2 directory every container and exec probe process is put in (the "
                 "node's cgroup); unset: they stay in the kubelet's");
  app.add_option("--cluster-dns", options.dns.server,
                 "IP of the cluster DNS Service: ClusterFirst pods get a resolv.conf naming it "
                 "(empty: pods keep the node's resolv.conf)");
  app.add_option("--cluster-domain", options.dns.domain, "The cluster's DNS domain")
      ->default_val("cluster.local");
  std::vector<std::string> entrypoints;
  app.add_option("--image-entrypoint", entrypoints,
                 "REPO=ARGV (repeatable): a container of image repository REPO without a command "
                 "runs ARGV (space-separated) followed by its args, as its image's entrypoint");
  std::vector<std::string> host_path_map;
  app.add_option("--host-path-map", host_path_map,
                 "NODE_PATH=HOST_PATH (repeatable): a part of this node's filesystem that is a "
                 "directory of its own on this machine (the sandbox's nodes share one); hostPath "
                 "volumes and CNI plugins see it at NODE_PATH");
  app.add_option("--log-level", log_level, "debug, info, warn, error")->default_val("info");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  rt.bin_dir = petrel::sandbox::selfDir();
  for (const auto& e : entrypoints) {
    if (auto s = options.images.add(e); !s) {
      spdlog::error("{}", s.message());
      return 1;
    }
  }
  auto host_paths = petrel::sandbox::HostPathMap::parse(host_path_map);
  if (!host_paths) {
    spdlog::error("{}", host_paths.status().message());
    return 1;
  }
  rt.host_paths = std::move(*host_paths);
  for (const auto& [node_path, host_path] : rt.host_paths.entries()) {
    spdlog::info("this node's {} is {}", node_path, host_path);
  }
  for (const auto& [repo, entrypoint] : options.images.entries()) {
    spdlog::info("image {} runs `{}`", repo, fmt::format("{}", fmt::join(entrypoint, " ")));
  }

  auto cluster = petrel::k8s::loadKubeconfig(kubeconfig);
  if (!cluster) {
    spdlog::error("cannot use kubeconfig {}: {}", kubeconfig, cluster.status().message());
    return 1;
  }
  std::error_code ec;
  if (!rt.cgroup_dir.empty() && !std::filesystem::exists(rt.cgroup_dir + "/cgroup.procs", ec)) {
    spdlog::error("--cgroup-parent {}: not a cgroup v2 directory (no cgroup.procs)", rt.cgroup_dir);
    return 1;
  }
  std::filesystem::create_directories(rt.state_dir + "/pods", ec);
  if (ec) {
    spdlog::error("cannot create state dir {}: {}", rt.state_dir, ec.message());
    return 1;
  }

  petrel::sandbox::TerminationSignals signals;
  petrel::sandbox::Kubelet kubelet(options, std::move(*cluster));
  std::atomic<bool> stop{false};
  signals.onSignal([&](int sig) {
    spdlog::info("signal {}: stopping (pods keep running; a new kubelet adopts them)", sig);
    stop = true;
    kubelet.wake();
  });
  spdlog::info("petrel-kubelet for node {} ({}) starting{}", rt.node_name, rt.node_ip,
               rt.cgroup_dir.empty() ? "" : "; pods run in cgroup " + rt.cgroup_dir);
  kubelet.run(stop);
  return 0;
}
