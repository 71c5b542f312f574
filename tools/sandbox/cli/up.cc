// petrel-sandbox up: underlay, nodes, the control plane, agents, kubelets, cluster DNS.
#include <sys/statfs.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "k8s/cluster_config.h"
#include "k8s/crds.h"
#include "k8s/rest_client.h"
#include "tools/sandbox/cli/addons.h"
#include "tools/sandbox/cli/commands.h"
#include "tools/sandbox/cli/component.h"
#include "tools/sandbox/cli/control_plane.h"
#include "tools/sandbox/cli/install.h"
#include "tools/sandbox/cli/wire_emulation.h"
#include "tools/sandbox/common/cgroup.h"
#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

Status writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) return makeError(Code::kInternal, "cannot write {}", path);
  return Status::ok();
}

Status ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return runChecked(argv);
}

// The Petrel binaries sit next to petrel-sandbox; portmap comes from the distribution.
Status checkBinaries(const std::string& bin_dir) {
  for (const char* b : {"petrel-k8s", "petrel-agent", "petrel-cni", "petrel-kubelet",
                        "petrel-operator", "petrel-workload", "petrel"}) {
    if (access((bin_dir + "/" + b).c_str(), X_OK) != 0) {
      return makeError(Code::kNotFound, "{}/{} is missing: build it with scripts/build.sh", bin_dir,
                       b);
    }
  }
  for (const char* tool : {"ip", "nsenter"}) {
    if (runChecked({"sh", "-c", std::string("command -v ") + tool}).isOk()) continue;
    return makeError(Code::kNotFound, "{} is not installed: run scripts/install-deps.sh", tool);
  }
  return Status::ok();
}

Status makeDirectory(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return makeError(Code::kInternal, "cannot create {}: {}", path, ec.message());
  return Status::ok();
}

// The nodes' /sys/fs/bpf are directories of this machine's bpffs: mount it if it is not there.
Status ensureBpffs() {
  constexpr long kBpfFsMagic = 0xcafe4a11;
  struct statfs fs_info {};
  if (statfs("/sys/fs/bpf", &fs_info) == 0 && static_cast<long>(fs_info.f_type) == kBpfFsMagic) {
    return Status::ok();
  }
  step("Mounting bpffs at /sys/fs/bpf (the nodes' pinned maps live under it)");
  return runChecked({"mount", "-t", "bpf", "bpf", "/sys/fs/bpf"});
}

std::string portmapDir() {
  for (const char* dir : {"/usr/lib/cni", "/opt/cni/bin"}) {
    if (access((std::string(dir) + "/portmap").c_str(), X_OK) == 0) return dir;
  }
  return "";
}

Status buildUnderlay(const Layout& l) {
  step(fmt::format("Underlay: namespace {} with bridge {} ({}0/24), this machine at {}",
                   l.underlayNetns(), kUnderlayBridge, l.underlay_net + ".", l.hostIp()));
  PETREL_RETURN_IF_ERROR(ip({"netns", "add", l.underlayNetns()}));
  PETREL_RETURN_IF_ERROR(ip({"-n", l.underlayNetns(), "link", "set", "lo", "up"}));
  PETREL_RETURN_IF_ERROR(
      ip({"-n", l.underlayNetns(), "link", "add", kUnderlayBridge, "type", "bridge"}));
  PETREL_RETURN_IF_ERROR(ip({"-n", l.underlayNetns(), "addr", "add", l.underlayGateway() + "/24",
                             "dev", kUnderlayBridge}));
  PETREL_RETURN_IF_ERROR(ip({"-n", l.underlayNetns(), "link", "set", kUnderlayBridge, "up"}));
  PETREL_RETURN_IF_ERROR(ip({"link", "add", l.hostLink(), "type", "veth", "peer", "name",
                             kUnderlayUplink, "netns", l.underlayNetns()}));
  PETREL_RETURN_IF_ERROR(ip({"addr", "add", l.hostIp() + "/24", "dev", l.hostLink()}));
  PETREL_RETURN_IF_ERROR(ip({"link", "set", l.hostLink(), "up"}));
  if (l.lb_acceleration == "native") {
    // Clients here and in the underlay send complete checksums, as over a wire, so the nodes'
    // XDP fast path can patch them.
    PETREL_RETURN_IF_ERROR(completeChecksumsOn("", l.hostLink()));
    PETREL_RETURN_IF_ERROR(completeChecksumsOn(l.underlayNetns(), kUnderlayBridge));
  }
  return ip(
      {"-n", l.underlayNetns(), "link", "set", kUnderlayUplink, "master", kUnderlayBridge, "up"});
}

Status buildNode(const Layout& l, int i) {
  const std::string ns = l.nodeNetns(i), port = l.nodeName(i);
  step(fmt::format("Node {}: namespace {}, eth0 {}, pod CIDR {}", l.nodeName(i), ns, l.nodeIp(i),
                   l.podCidr(i)));
  PETREL_RETURN_IF_ERROR(ip({"netns", "add", ns}));
  PETREL_RETURN_IF_ERROR(ip({"-n", ns, "link", "set", "lo", "up"}));
  PETREL_RETURN_IF_ERROR(ip({"-n", l.underlayNetns(), "link", "add", port, "type", "veth", "peer",
                             "name", "eth0", "netns", ns}));
  PETREL_RETURN_IF_ERROR(
      ip({"-n", l.underlayNetns(), "link", "set", port, "master", kUnderlayBridge, "up"}));
  if (l.lb_acceleration == "native") {
    // The node's uplink gets XDP: its bridge port must receive XDP_TX frames, and what the
    // node sends must carry complete checksums, as on a wire.
    PETREL_RETURN_IF_ERROR(attachXdpPass(l.underlayNetns(), port));
    PETREL_RETURN_IF_ERROR(completeChecksumsOn(ns, "eth0"));
  }
  PETREL_RETURN_IF_ERROR(ip({"-n", ns, "addr", "add", l.nodeIp(i) + "/24", "dev", "eth0"}));
  PETREL_RETURN_IF_ERROR(ip({"-n", ns, "link", "set", "eth0", "up"}));
  PETREL_RETURN_IF_ERROR(ip({"-n", ns, "route", "add", "default", "via", l.underlayGateway()}));
  // This machine reaches each node's pods through the node, so curl and ping work from here.
  return ip({"route", "replace", l.podCidr(i), "via", l.nodeIp(i), "dev", l.hostLink()});
}

bool nodeReady(const k8s::RestClient& api, const std::string& node) {
  auto r = api.get("/api/v1/nodes/" + node, 5s);
  if (!r || r->status != 200) return false;
  json n = json::parse(r->body, nullptr, false);
  if (!n.is_object()) return false;
  for (const auto& c : n.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == "Ready" && c.value("status", "") == "True") return true;
  }
  return false;
}

Status createPetrelNode(const k8s::RestClient& api, const Layout& l, int i) {
  json node = {{"apiVersion", "petrel.io/v1alpha1"},
               {"kind", "PetrelNode"},
               {"metadata", {{"name", l.nodeName(i)}}},
               {"spec",
                {{"ipam", {{"podCIDRs", {l.podCidr(i)}}}},
                 {"addresses", {{{"type", "InternalIP"}, {"ip", l.nodeIp(i)}}}},
                 {"encapsulation", "vxlan"}}}};
  auto r = api.send("POST", "/apis/petrel.io/v1alpha1/petrelnodes", node.dump(), 10s);
  if (!r) return r.status();
  if (r->status != 201) {
    return makeError(Code::kUnavailable, "create PetrelNode {}: HTTP {}: {}", l.nodeName(i),
                     r->status, r->body.substr(0, 300));
  }
  return Status::ok();
}

Status writeNodeFiles(const Layout& l, int i) {
  const std::string dir = l.nodeDir(i);
  std::error_code ec;
  fs::create_directories(dir + "/net.d", ec);
  fs::create_directories(dir + "/agent", ec);
  fs::create_directories(dir + "/kubelet", ec);
  fs::create_directories(dir + "/run", ec);
  if (ec) return makeError(Code::kInternal, "cannot create {}: {}", dir, ec.message());
  json plugins = json::array({{{"type", "petrel-cni"},
                               {"agentSocket", l.agentSocket(i)},
                               {"logFile", l.logDir() + "/" + l.nodeName(i) + "-cni.log"}}});
  if (!portmapDir().empty()) {
    plugins.push_back({{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}});
  }
  json conflist = {{"cniVersion", "1.0.0"}, {"name", "petrel"}, {"plugins", plugins}};
  PETREL_RETURN_IF_ERROR(writeFile(dir + "/net.d/10-petrel.conflist", conflist.dump(2) + "\n"));
  return writeNodeKubeconfigs(l, i);
}

// Node i's kubelet: its own certificate, CNI directories, pod namespaces, cgroup, and the
// cluster DNS; CoreDNS's image runs petrel-k8s's coredns applet.
std::vector<std::string> kubeletArgv(const Layout& l, int i, const std::string& bin,
                                     const std::string& cni_path) {
  const std::string dir = l.nodeDir(i);
  return {bin + "/petrel-kubelet",
          "--node-name=" + l.nodeName(i),
          "--node-ip=" + l.nodeIp(i),
          "--kubeconfig=" + dir + "/kubeconfig",
          "--state-dir=" + dir + "/kubelet",
          "--cni-conf-dir=" + dir + "/net.d",
          "--cni-bin-dir=" + cni_path,
          "--netns-prefix=" + l.podNetnsPrefix(),
          "--pod-cidr=" + l.podCidr(i),
          "--cgroup-parent=" + l.nodeCgroup(i),
          "--cluster-dns=" + l.clusterDnsIp(),
          "--cluster-domain=" + l.cluster_domain,
          "--image-entrypoint=registry.k8s.io/coredns/coredns=" + bin + "/petrel-k8s coredns"};
}

// Agents and the operator as processes started here (--install direct), with the admin's
// certificate: the quickest loop while working on the agent itself.
Status startNodesDirectly(SandboxState& state, const k8s::RestClient& client,
                          const std::string& bin) {
  const Layout& l = state.layout;
  const std::string cni_path = portmapDir().empty() ? bin : bin + ":" + portmapDir();
  std::vector<Component> kubelets;
  for (int i = 1; i <= l.nodes; ++i) {
    const std::string node = l.nodeName(i), dir = l.nodeDir(i);
    PETREL_RETURN_IF_ERROR(writeNodeFiles(l, i));
    step(fmt::format("Node {}: petrel-agent and kubelet", node));
    // No --pod-cidr: the agent reads it from its PetrelNode, as in a cluster.
    auto agent = launch(
        state, node + "/agent", l.nodeNetns(i),
        {bin + "/petrel-agent", "--node-name", node, "--bpf-root", l.agentBpfRoot(i), "--state-dir",
         dir + "/agent", "--socket", l.agentSocket(i), "--kubeconfig", dir + "/agent.kubeconfig",
         "--routing-mode", l.routing_mode, "--vxlan-mode", l.vxlan_mode, "--cgroup-root",
         l.nodeCgroup(i), "--lb-acceleration", l.lb_acceleration});
    if (!agent) return agent.status();
    auto kubelet =
        launch(state, node + "/kubelet", l.nodeNetns(i), kubeletArgv(l, i, bin, cni_path));
    if (!kubelet) return kubelet.status();
    PETREL_RETURN_IF_ERROR(
        waitFor(*agent, 30s, "its API socket", [&] { return fs::exists(l.agentSocket(i)); }));
    kubelets.push_back(*kubelet);
  }

  for (int i = 1; i <= l.nodes; ++i) {
    PETREL_RETURN_IF_ERROR(waitFor(kubelets[static_cast<size_t>(i - 1)], 30s, "its node Ready",
                                   [&] { return nodeReady(client, l.nodeName(i)); }));
  }
  // The operator starts once every Node is registered: it deletes the PetrelNode of a node the
  // API does not have, and it adopts the ones above as they are (they lie in its pool).
  step(fmt::format("Operator (CRDs, pod CIDRs from {}.0.0/16, leader election)", l.pod_net));
  auto op = launch(state, "operator", "",
                   {bin + "/petrel-operator", "--kubeconfig", l.kubeconfig(), "--cluster-pool-cidr",
                    l.pod_net + ".0.0/16", "--node-cidr-mask", "24"});
  if (!op) return op.status();
  return Status::ok();
}

// Kubelets first, then Petrel through its chart (--install helm): the agents and the
// operator are pods with the chart's RBAC and in-cluster configuration, as in any cluster.
Status startNodesWithHelm(SandboxState& state, const k8s::RestClient& client,
                          const std::string& bin) {
  const Layout& l = state.layout;
  PETREL_RETURN_IF_ERROR(ensureBpffs());
  std::vector<Component> kubelets;
  for (int i = 1; i <= l.nodes; ++i) {
    const std::string node = l.nodeName(i), dir = l.nodeDir(i);
    for (const std::string& path : {dir + "/kubelet", l.nodeBpfRoot(i)}) {
      PETREL_RETURN_IF_ERROR(makeDirectory(path));
    }
    for (const auto& [host, node_path] : l.nodeHostPaths(i)) {
      PETREL_RETURN_IF_ERROR(makeDirectory(node_path));
    }
    PETREL_RETURN_IF_ERROR(writeNodeKubeconfigs(l, i));
    step(
        fmt::format("Node {}: kubelet (its /etc/cni/net.d, /opt/cni/bin, /var/run/petrel, "
                    "/sys/fs/bpf and cgroup are {}/..., {} and {})",
                    node, dir, l.nodeBpfRoot(i), l.nodeCgroup(i)));
    const std::string cni_path =
        dir + "/cni-bin" + (portmapDir().empty() ? "" : ":" + portmapDir());
    std::vector<std::string> argv = kubeletArgv(l, i, bin, cni_path);
    for (const auto& [host, node_path] : l.nodeHostPaths(i)) {
      argv.insert(argv.end(), {"--host-path-map", host + "=" + node_path});
    }
    auto kubelet = launch(state, node + "/kubelet", l.nodeNetns(i), argv);
    if (!kubelet) return kubelet.status();
    kubelets.push_back(*kubelet);
  }
  for (int i = 1; i <= l.nodes; ++i) {
    PETREL_RETURN_IF_ERROR(waitFor(kubelets[static_cast<size_t>(i - 1)], 30s, "its node Ready",
                                   [&] { return nodeReady(client, l.nodeName(i)); }));
  }
  return installPetrel(l, bin, !portmapDir().empty());
}

}  // namespace

void step(const std::string& message) {
  std::cout << "==> " << message << std::endl;
}

Status sandboxUp(const Layout& layout) {
  const std::string bin = selfDir();
  PETREL_RETURN_IF_ERROR(validateLayout(layout));
  PETREL_RETURN_IF_ERROR(checkBinaries(bin));
  if (auto old = loadState(layout.state_dir); old) {
    for (const auto& c : old->components) {
      if (processAlive(c.pid, c.start_time)) {
        return makeError(Code::kAlreadyExists,
                         "a sandbox is already up (state in {}): `petrel-sandbox status` shows it, "
                         "`petrel-sandbox down` removes it",
                         layout.state_dir);
      }
    }
  }
  bool mounted_cgroup2 = false;
  auto cgroup2 = findOrMountCgroup2(kCgroupFallbackMount, &mounted_cgroup2);
  if (!cgroup2) return cgroup2.status();
  Layout with_cgroups = layout;
  with_cgroups.cgroup2_mount = *cgroup2;
  if (fs::exists(layout.state_dir) || fs::exists("/run/netns/" + layout.underlayNetns()) ||
      fs::exists(with_cgroups.cgroupRoot())) {
    step("Removing what a previous sandbox left behind");
    PETREL_RETURN_IF_ERROR(sandboxDown(layout, true));
  }
  SandboxState state;
  state.layout = with_cgroups;
  const Layout& l = state.layout;
  std::error_code ec;
  fs::create_directories(l.logDir(), ec);
  if (ec) return makeError(Code::kInternal, "cannot create {}: {}", l.logDir(), ec.message());
  PETREL_RETURN_IF_ERROR(saveState(state));

  step(fmt::format("Node cgroups under {} ({}; node-i's agent attaches socket hooks to its own)",
                   l.cgroupRoot(),
                   mounted_cgroup2 ? "no cgroup2 was mounted: mounted one at " + *cgroup2
                                   : "cgroup2 mounted at " + *cgroup2));
  for (int i = 1; i <= l.nodes; ++i) PETREL_RETURN_IF_ERROR(createCgroup(l.nodeCgroup(i)));
  PETREL_RETURN_IF_ERROR(buildUnderlay(l));
  for (int i = 1; i <= l.nodes; ++i) PETREL_RETURN_IF_ERROR(buildNode(l, i));

  auto control_plane = startControlPlane(state, bin);
  if (!control_plane) return control_plane.status();

  auto cluster = k8s::loadKubeconfig(l.kubeconfig());
  if (!cluster) return cluster.status();
  k8s::RestClient client(std::move(*cluster));
  step(fmt::format("Petrel's CRDs, and a PetrelNode per node (node-i gets pod CIDR {}.i.0/24)",
                   l.pod_net));
  PETREL_RETURN_IF_ERROR(k8s::installCrds(client));
  for (int i = 1; i <= l.nodes; ++i) PETREL_RETURN_IF_ERROR(createPetrelNode(client, l, i));

  if (l.nodes == 0) {
    std::cout << fmt::format(
        "\nThe control plane is up (no nodes).\n\n  export KUBECONFIG={}\n  kubectl get ns\n",
        l.kubeconfig());
    return Status::ok();
  }
  PETREL_RETURN_IF_ERROR(l.install == "helm" ? startNodesWithHelm(state, client, bin)
                                             : startNodesDirectly(state, client, bin));
  PETREL_RETURN_IF_ERROR(installClusterDns(client, l, 180s));
  std::cout << fmt::format(
      "\nThe sandbox is up: {} nodes, every one Ready.\n\n"
      "  export KUBECONFIG={}\n"
      "  kubectl get nodes -o wide\n"
      "  kubectl apply -f examples/sandbox/echo.yaml && kubectl get pods -o wide\n"
      "  petrel-sandbox status               # what runs where, every namespace\n"
      "  petrel --socket {} status\n"
      "  ip netns exec {} ip addr            # a node; pods are {}<namespace>-<name>\n"
      "  petrel-sandbox exec node-1 -- curl ...  # as node-1: its namespace and cgroup\n"
      "  petrel-sandbox down                 # remove it all\n",
      l.nodes, l.kubeconfig(), l.agentSocket(1), l.nodeNetns(1), l.podNetnsPrefix());
  return Status::ok();
}

}  // namespace petrel::sandbox
