// Where the sandbox puts things: names of its network namespaces and links, its addresses, its
// directories, and the state file that records what `up` started so `status` and `down` can find
// it. Everything the sandbox makes is named with its prefix ("psbx" by default) so `down` can also
// find what a crashed run left behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace petrel::sandbox {

inline constexpr const char* kDefaultStateDir = "/run/petrel-sandbox";
inline constexpr const char* kUnderlayBridge = "br0";     // in the underlay namespace
inline constexpr const char* kUnderlayUplink = "uplink";  // its port toward this machine
// Where `up` mounts cgroup2 when the machine has none mounted (left mounted, like bpffs).
inline constexpr const char* kCgroupFallbackMount = "/run/petrel-sandbox-cgroup2";

struct Layout {
  std::string state_dir = kDefaultStateDir;
  // Every namespace, link and pin is named from it, so two sandboxes (a user's and a test's)
  // can live side by side.
  std::string prefix = "psbx";
  int nodes = 2;
  uint16_t api_port = 6443;
  // Underlay <net>.0/24: .1 the underlay router (the "outside"), .254 this machine, .10+i node i.
  std::string underlay_net = "192.168.200";
  // Node i gets <pod_net>.i.0/24.
  std::string pod_net = "10.244";
  std::string routing_mode = "tunnel";    // the agents' --routing-mode: tunnel or native
  std::string vxlan_mode = "collect-md";  // the agents' --vxlan-mode: collect-md or classic
  // The agents' --lb-acceleration. With "native" the nodes' uplink veths get the XDP Service
  // fast path, and the underlay is made to behave like a wire for it (wire_emulation.h).
  std::string lb_acceleration = "best-effort";
  // How Petrel gets onto the nodes: "helm" (its chart: agents and operator are pods) or "direct"
  // (processes started by `up`, with the admin's certificate).
  std::string install = "helm";
  std::string chart_dir;  // --install helm: the chart; empty: the source tree's charts/petrel
  // Fixed, as in a default kubeadm cluster: Service ClusterIPs, the kubernetes Service's
  // address (the range's first), the cluster DNS Service's and the cluster's DNS domain.
  std::string service_cidr = "10.96.0.0/16";
  std::string cluster_domain = "cluster.local";
  // The cgroup2 mount `up` found (or made); empty until then. Each node's agent attaches its
  // socket hooks to nodeCgroup(i), and that node's pod processes live in it.
  std::string cgroup2_mount;

  std::string underlayNetns() const { return prefix + "-underlay"; }
  std::string hostLink() const { return prefix + "0"; }  // this machine's end of the uplink
  std::string podNetnsPrefix() const { return prefix + "-pod-"; }
  std::string bpfRoot() const { return "/sys/fs/bpf/petrel-" + prefix; }
  std::string underlayGateway() const { return underlay_net + ".1"; }
  std::string apiServiceIp() const { return "10.96.0.1"; }
  std::string clusterDnsIp() const { return "10.96.0.10"; }  // the kube-dns Service, as kubeadm
  std::string hostIp() const { return underlay_net + ".254"; }
  std::string nodeName(int i) const { return "node-" + std::to_string(i); }
  std::string nodeNetns(int i) const { return prefix + "-" + nodeName(i); }
  std::string nodeIp(int i) const { return underlay_net + "." + std::to_string(10 + i); }
  std::string podCidr(int i) const { return pod_net + "." + std::to_string(i) + ".0/24"; }
  std::string nodeDir(int i) const { return state_dir + "/nodes/" + nodeName(i); }
  // The node's /var/run/petrel, where its agent's socket is.
  std::string agentSocket(int i) const { return nodeDir(i) + "/run/petrel.sock"; }
  // Paths of a node's host filesystem that are its own in the sandbox (the rest is this
  // machine's): {path on a node, where it is here}. The kubelet maps pods' hostPath volumes and
  // the CNI plugins' view through them.
  std::vector<std::pair<std::string, std::string>> nodeHostPaths(int i) const {
    return {{"/etc/cni/net.d", nodeDir(i) + "/net.d"},
            {"/opt/cni/bin", nodeDir(i) + "/cni-bin"},
            {"/var/run/petrel", nodeDir(i) + "/run"},
            {"/sys/fs/bpf", nodeBpfRoot(i)},
            {"/run/petrel/cgroupv2", nodeCgroup(i)}};
  }
  std::string nodeBpfRoot(int i) const { return bpfRoot() + "/" + nodeName(i); }
  // Where node i's agent pins: the chart's --bpf-root (/sys/fs/bpf/petrel) on that node.
  std::string agentBpfRoot(int i) const { return nodeBpfRoot(i) + "/petrel"; }
  std::string cgroupRoot() const { return cgroup2_mount + "/petrel-" + prefix; }
  std::string nodeCgroup(int i) const { return cgroupRoot() + "/" + nodeName(i); }
  std::string logDir() const { return state_dir + "/logs"; }
  std::string kubeconfig() const { return state_dir + "/kubeconfig"; }
  std::string stateFile() const { return state_dir + "/sandbox.json"; }
};

// Checks the user-given parts of a layout (prefix length for link names, address syntax).
Status validateLayout(const Layout& layout);

// A process `up` started, identified by pid and start time.
struct Component {
  std::string name;   // "apiserver", "node-1/agent", ...
  std::string netns;  // empty: the root namespace
  pid_t pid = 0;
  uint64_t start_time = 0;
  std::string log;
  std::vector<std::string> argv;  // to start it again (petrel-sandbox restart)
};

struct SandboxState {
  Layout layout;
  std::string api_url;
  std::vector<Component> components;
};

nlohmann::json toJson(const SandboxState& state);
// Reads <state_dir>/sandbox.json; NOT_FOUND when no sandbox was started there.
Result<SandboxState> loadState(const std::string& state_dir);
Status saveState(const SandboxState& state);

}  // namespace petrel::sandbox
