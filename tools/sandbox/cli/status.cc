// petrel-sandbox status: the components and whether they run, the kubeconfig, every node (with
// its cgroup) and pod with the network namespace a person can `ip netns exec` into.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/json_path.h"
#include "common/table.h"
#include "k8s/cluster_config.h"
#include "k8s/rest_client.h"
#include "tools/sandbox/cli/commands.h"
#include "tools/sandbox/cli/petrel_pods.h"
#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// uid -> network namespace, from the kubelets' pod records.
std::map<std::string, std::string> podNamespaces(const Layout& l) {
  std::map<std::string, std::string> out;
  for (int i = 1; i <= l.nodes; ++i) {
    std::error_code ec;
    for (const auto& dir : fs::directory_iterator(l.nodeDir(i) + "/kubelet/pods", ec)) {
      std::ifstream in(dir.path() / "record.json");
      std::stringstream text;
      text << in.rdbuf();
      json r = json::parse(text.str(), nullptr, false);
      if (r.is_object()) out[r.value("uid", "")] = r.value("netns", "");
    }
  }
  return out;
}

Result<json> apiList(const k8s::RestClient& api, const std::string& path) {
  auto r = api.get(path, 5s);
  if (!r) return r.status();
  if (r->status != 200) return makeError(Code::kUnavailable, "GET {}: HTTP {}", path, r->status);
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) return makeError(Code::kUnavailable, "GET {}: not JSON", path);
  return j.value("items", json::array());
}

}  // namespace

Status sandboxStatus(const std::string& state_dir, bool as_json) {
  auto state = loadState(state_dir);
  if (!state) {
    return makeError(Code::kNotFound,
                     "no sandbox is up (no {}/sandbox.json); start one with "
                     "`petrel-sandbox up`",
                     state_dir);
  }
  const Layout& l = state->layout;
  json out = toJson(*state);
  for (auto& c : out["components"]) {
    c["running"] = processAlive(c["pid"].get<pid_t>(), c["startTime"].get<uint64_t>());
  }
  if (l.install == "helm") {
    // The agents and the operator are pods of the chart: listed with their container's pid.
    if (auto pods = petrelPods(l); pods) {
      for (const auto& p : *pods) {
        out["components"].push_back({{"name", p.component},
                                     {"netns", p.node.empty() ? "" : "(node " + p.node + ")"},
                                     {"pid", p.pid},
                                     {"running", p.pid != 0},
                                     {"pod", p.pod},
                                     {"log", p.log}});
      }
    }
    // The sandbox has no images: the kubelets run these in their place.
    out["images"] = {{{"image", "petrel.io/petrel"},
                      {"runs", selfDir() + "/{petrel-agent,petrel-operator,petrel-cni,petrel}"}},
                     {{"image", "registry.k8s.io/coredns/coredns"},
                      {"runs", selfDir() + "/petrel-k8s coredns"}}};
  }
  json nodes = json::array();
  for (int i = 1; i <= l.nodes; ++i) {
    nodes.push_back({{"name", l.nodeName(i)},
                     {"netns", l.nodeNetns(i)},
                     {"ip", l.nodeIp(i)},
                     {"podCIDR", l.podCidr(i)},
                     {"agentSocket", l.agentSocket(i)},
                     {"cgroup", l.cgroup2_mount.empty() ? "" : l.nodeCgroup(i)}});
  }
  out["nodes"] = nodes;
  out["underlay"] = {
      {"netns", l.underlayNetns()}, {"gateway", l.underlayGateway()}, {"host", l.hostIp()}};
  json pods = json::array();
  std::string api_error;
  auto cluster = k8s::loadKubeconfig(l.kubeconfig());
  if (cluster) {
    k8s::RestClient api(std::move(*cluster));
    auto netns = podNamespaces(l);
    if (auto items = apiList(api, "/api/v1/pods"); items) {
      for (const auto& p : *items) {
        const std::string uid = stringAt(p, {"metadata", "uid"});
        pods.push_back({{"namespace", stringAt(p, {"metadata", "namespace"})},
                        {"name", stringAt(p, {"metadata", "name"})},
                        {"node", stringAt(p, {"spec", "nodeName"})},
                        {"ip", stringAt(p, {"status", "podIP"})},
                        {"phase", stringAt(p, {"status", "phase"})},
                        {"netns", netns.count(uid) ? netns[uid] : ""}});
      }
    } else {
      api_error = items.status().message();
    }
  } else {
    api_error = cluster.status().message();
  }
  out["pods"] = pods;
  if (!api_error.empty()) out["apiError"] = api_error;
  if (as_json) {
    std::cout << out.dump(2) << "\n";
    return Status::ok();
  }

  std::cout << "Kubeconfig: " << l.kubeconfig() << "   (export KUBECONFIG=" << l.kubeconfig()
            << ")\nAPI server: " << state->api_url << "\n\n";
  cli::Table components({"COMPONENT", "NETNS", "PID", "STATE", "LOG"});
  for (const auto& c : out["components"]) {
    components.addRow({c["name"], c["netns"].get<std::string>().empty() ? "(host)" : c["netns"],
                       std::to_string(c["pid"].get<int>()),
                       c["running"].get<bool>() ? "running" : "NOT RUNNING", c["log"]});
  }
  components.print(std::cout);
  std::cout << "\n";
  if (out.contains("images")) {
    std::cout << "Images (the kubelets run the build's binaries in their place):\n";
    for (const auto& i : out["images"]) {
      std::cout << fmt::format("  {:<34} -> {}\n", i["image"].get<std::string>(),
                               i["runs"].get<std::string>());
    }
    std::cout << "\n";
  }
  cli::Table node_table({"NODE", "NETNS", "IP", "POD CIDR", "AGENT SOCKET", "CGROUP"});
  node_table.addRow({"(underlay)", l.underlayNetns(), l.underlayGateway(), "-", "-", "-"});
  for (const auto& n : nodes) {
    node_table.addRow({n["name"], n["netns"], n["ip"], n["podCIDR"], n["agentSocket"],
                       n["cgroup"].get<std::string>().empty() ? "-" : n["cgroup"]});
  }
  node_table.print(std::cout);
  std::cout << "\n";
  if (!api_error.empty()) {
    std::cout << "Pods: cannot ask the API server: " << api_error << "\n";
  } else if (pods.empty()) {
    std::cout << "No pods yet: kubectl apply -f examples/sandbox/echo.yaml\n";
  } else {
    cli::Table pod_table({"NAMESPACE", "NAME", "NODE", "IP", "PHASE", "NETNS"});
    for (const auto& p : pods) {
      pod_table.addRow({p["namespace"], p["name"], p["node"], p["ip"], p["phase"],
                        p["netns"].get<std::string>().empty() ? "-" : p["netns"]});
    }
    pod_table.print(std::cout);
  }
  std::cout << "\nEnter any namespace with: ip netns exec <NETNS> <command>\n"
               "Run a command as a node (its namespace and cgroup): petrel-sandbox exec <NODE> -- "
               "<command>\n";
  return Status::ok();
}

}  // namespace petrel::sandbox
