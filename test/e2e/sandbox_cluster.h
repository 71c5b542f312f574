// SandboxCluster: a petrel-sandbox for e2e tests. Each one has its own prefix, subnets, API port
// and state dir (so a user's sandbox is untouched), is brought up by up(N) and always taken down;
// helpers drive kubectl and petrel-sandbox and find what a run left behind.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test/e2e/harness.h"

namespace petrel::e2e {

inline uint16_t freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  return ok ? ntohs(addr.sin_port) : 0;  // 0: `up` refuses it, saying so
}

// The first cgroup2 mount point in /proc/self/mounts ("" when none).
inline std::string cgroup2Mount() {
  std::ifstream in("/proc/self/mounts");
  for (std::string source, target, type, rest; in >> source >> target >> type;) {
    std::getline(in, rest);
    if (type == "cgroup2") return target;
  }
  return "";
}

// One sandbox, brought up by the constructor's caller with up() and always taken down.
class Sandbox {
 public:
  using json = nlohmann::json;

  Sandbox() {
    const int n = static_cast<int>(getpid() % 200) + ++count_;
    prefix_ = "pt" + std::to_string(getpid() % 100000) + std::to_string(count_);
    state_dir_ = "/tmp/" + uniqueName("pe2e-sbx");
    underlay_net_ = "172.31." + std::to_string(n % 250);
    pod_net_ = "10." + std::to_string(100 + n % 100);
  }
  ~Sandbox() {
    auto r = cli({"down"});
    if (!r.ok()) ADD_FAILURE() << "petrel-sandbox down: " << r.describe();
    std::filesystem::remove_all(state_dir_);
  }

  ::testing::AssertionResult up(int nodes, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"up",
                                     "--nodes",
                                     std::to_string(nodes),
                                     "--prefix",
                                     prefix_,
                                     "--underlay-net",
                                     underlay_net_,
                                     "--pod-net",
                                     pod_net_,
                                     "--api-port",
                                     std::to_string(freePort())};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = cli(args, 240s);
    if (!r.ok()) return ::testing::AssertionFailure() << "petrel-sandbox up: " << r.describe();
    return ::testing::AssertionSuccess();
  }

  // petrel-sandbox with a user's PATH (the build's bin is not on it): the sandbox finds its
  // own binaries, as after the README's first command.
  CmdResult cli(std::vector<std::string> args, Millis timeout = 60s) const {
    args.insert(args.begin(), {(binDir() / "petrel-sandbox").string(), "--state-dir", state_dir_});
    return run(args,
               {.timeout = timeout,
                .env = {{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}});
  }
  CmdResult kubectl(std::vector<std::string> args, Millis timeout = 30s) const {
    args.insert(args.begin(), {"kubectl", "--kubeconfig", kubeconfig()});
    return run(args, {.timeout = timeout, .env = {{"HOME", state_dir_}}});
  }
  // kubectl apply -f - of a YAML text.
  ::testing::AssertionResult apply(const std::string& yaml) const {
    auto r = run({"kubectl", "--kubeconfig", kubeconfig(), "apply", "-f", "-"},
                 {.input = yaml, .env = {{"HOME", state_dir_}}});
    if (r.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "kubectl apply: " << r.describe();
  }
  // A Service `name` on port 80 selecting app=<name>.
  ::testing::AssertionResult createService(const std::string& name) const {
    auto r = run({"kubectl", "--kubeconfig", kubeconfig(), "apply", "-f", "-"},
                 {.input = "apiVersion: v1\nkind: Service\nmetadata: {name: " + name +
                           "}\nspec: {selector: {app: " + name + "}, ports: [{port: 80}]}\n",
                  .env = {{"HOME", state_dir_}}});
    if (r.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "create service " << name << ": " << r.describe();
  }
  json kubectlJson(const std::vector<std::string>& args) const {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"-o", "json"});
    auto r = kubectl(a);
    return r.ok() ? json::parse(r.out, nullptr, false) : json();
  }
  json status() const {
    auto r = cli({"status", "-o", "json"});
    return r.ok() ? json::parse(r.out, nullptr, false) : json();
  }
  // A component `status` lists ("apiserver", "node-1/kubelet", "node-1/agent": with the chart,
  // the agent pod's container): its pid (0 when none) and log file.
  pid_t componentPid(const std::string& name) const {
    return componentField(name).value("pid", pid_t{0});
  }
  std::string componentLog(const std::string& name) const {
    return componentField(name).value("log", "");
  }
  std::string kubeconfig() const { return state_dir_ + "/kubeconfig"; }
  // Where node `node`'s agent pins its maps: the chart's /sys/fs/bpf/petrel on that node.
  std::string bpfRoot(int node) const {
    return "/sys/fs/bpf/petrel-" + prefix_ + "/node-" + std::to_string(node) + "/petrel";
  }
  std::string agentSocket(int node) const {
    return state_dir_ + "/nodes/node-" + std::to_string(node) + "/run/petrel.sock";
  }
  const std::string& prefix() const { return prefix_; }
  const std::string& stateDir() const { return state_dir_; }
  // The underlay network's namespace and addresses: .1 its router (the "outside"), .10+i node i.
  std::string underlayNetns() const { return prefix_ + "-underlay"; }
  std::string underlayIp(int host) const { return underlay_net_ + "." + std::to_string(host); }
  std::string nodeIp(int node) const { return underlayIp(10 + node); }
  std::string podCidrPrefix(int node) const { return pod_net_ + "." + std::to_string(node) + "."; }
  // Packets node `node`'s datapath counted for `reason`, read by `petrel bpf metrics list` from
  // its pins (0 when none).
  uint64_t datapathCount(int node, const std::string& reason) const {
    auto r = run({(binDir() / "petrel").string(), "bpf", "metrics", "list", "-o", "json",
                  "--bpf-root", bpfRoot(node)});
    EXPECT_TRUE(r.ok()) << r.describe();
    nlohmann::json rows = nlohmann::json::parse(r.out, nullptr, false);
    uint64_t packets = 0;
    for (const auto& row : rows.is_array() ? rows : nlohmann::json::array()) {
      if (row.value("reason", "") == reason) packets += row.value("packets", uint64_t{0});
    }
    return packets;
  }
  // Node i's cgroup as /proc/<pid>/cgroup names it, and its directory.
  std::string nodeCgroupPath(int node) const {
    return "/petrel-" + prefix_ + "/node-" + std::to_string(node);
  }
  std::string cgroupRoot() const { return cgroup2Mount() + "/petrel-" + prefix_; }
  // argv that runs `script` under sh as a pod on node `node` runs: in the network namespace
  // `netns` and the node's cgroup (where socket-level Service load balancing applies). For run()
  // and BackgroundProcess; `script` must not contain single quotes.
  std::vector<std::string> asPodOn(int node, const std::string& netns,
                                   const std::string& script) const {
    return {"sh", "-c",
            "echo $$ > " + cgroupRoot() + "/node-" + std::to_string(node) +
                "/cgroup.procs && exec nsenter --net=/run/netns/" + netns + " sh -c '" + script +
                "'"};
  }
  // `petrel service list -o json` from node `node`'s agent (null when it fails).
  json serviceList(int node) const {
    auto r = run({(binDir() / "petrel").string(), "service", "list", "-o", "json", "--socket",
                  agentSocket(node)});
    return r.ok() ? json::parse(r.out, nullptr, false) : json();
  }
  // The backends node `node` applies for frontend "ip:port/TCP", each "address:port state"
  // (state "active" or "terminating"), sorted; nullopt when there is no such frontend.
  std::optional<std::set<std::string>> frontendBackends(int node,
                                                        const std::string& frontend) const {
    json list = serviceList(node);
    for (const auto& f : list.is_array() ? list : json::array()) {
      if (f["frontend"] != frontend) continue;
      std::set<std::string> out;
      for (const auto& b : f["backends"]) {
        out.insert(b["address"].get<std::string>() + ":" + std::to_string(b["port"].get<int>()) +
                   " " + b["state"].get<std::string>());
      }
      return out;
    }
    return std::nullopt;
  }
  // Waits until node `node` applies exactly `expected` (as frontendBackends) for `frontend`.
  ::testing::AssertionResult waitFrontendBackends(int node, const std::string& frontend,
                                                  const std::set<std::string>& expected,
                                                  Millis limit = 10s) const {
    std::optional<std::set<std::string>> last;
    for (auto deadline = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(100ms)) {
      last = frontendBackends(node, frontend);
      if (last == expected) return ::testing::AssertionSuccess();
    }
    std::string seen = last ? "" : "(no such frontend)";
    for (const auto& b : last.value_or(std::set<std::string>{})) seen += "\n  " + b;
    return ::testing::AssertionFailure() << "node-" << node << " never applied the expected "
                                         << "backends of " << frontend << "; last seen: " << seen;
  }

  // Waits until every listed pod is Running with its Ready condition True.
  ::testing::AssertionResult waitReady(const std::set<std::string>& names, Millis limit = 60s) {
    json last;
    for (auto deadline = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(250ms)) {
      last = kubectlJson({"get", "pods"});
      if (!last.is_object()) continue;
      size_t ready = 0;
      for (const auto& p : last["items"]) {
        if (!names.count(p["metadata"]["name"])) continue;
        for (const auto& c : p["status"].value("conditions", json::array())) {
          if (c["type"] == "Ready" && c["status"] == "True") ++ready;
        }
      }
      if (ready == names.size()) return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "pods not Ready in time:\n"
           << kubectl({"get", "pods", "-o", "wide"}).out << "\nkubelet log:\n"
           << sh("tail -20 " + state_dir_ + "/logs/node-*-kubelet.log").out;
  }
  // name -> pod JSON
  std::map<std::string, json> pods() const {
    std::map<std::string, json> out;
    json list = kubectlJson({"get", "pods"});
    if (list.is_object()) {
      for (const auto& p : list["items"]) out[p["metadata"]["name"]] = p;
    }
    return out;
  }
  // name -> the pod's network namespace, from `petrel-sandbox status -o json`.
  std::map<std::string, std::string> podNetns() const {
    std::map<std::string, std::string> out;
    json s = status();
    if (s.is_object()) {
      for (const auto& p : s["pods"]) out[p["name"]] = p["netns"];
    }
    return out;
  }
  // Every process, netns, link, pin, cgroup and directory of this sandbox that still exists.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator("/run/netns")) {
      if (e.path().filename().string().rfind(prefix_ + "-", 0) == 0) out.push_back(e.path());
    }
    if (std::filesystem::exists("/sys/class/net/" + prefix_ + "0"))
      out.push_back("link " + prefix_ + "0");
    if (std::filesystem::exists("/sys/fs/bpf/petrel-" + prefix_))
      out.push_back("/sys/fs/bpf/petrel-" + prefix_);
    if (std::filesystem::exists(state_dir_)) out.push_back(state_dir_);
    if (!cgroup2Mount().empty() && std::filesystem::exists(cgroupRoot()))
      out.push_back("cgroup " + cgroupRoot());
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      std::ifstream in(e.path() / "cmdline");
      std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::replace(cmd.begin(), cmd.end(), '\0', ' ');
      if (cmd.find(state_dir_ + "/") != std::string::npos) out.push_back("process: " + cmd);
    }
    return out;
  }

 private:
  json componentField(const std::string& name) const {
    json st = status();
    for (const auto& c : st.is_object() ? st["components"] : json::array()) {
      if (c.value("name", "") == name) return c;
    }
    return json::object();
  }

  static inline int count_ = 0;
  std::string prefix_;
  std::string state_dir_;
  std::string underlay_net_;
  std::string pod_net_;
};

// Holds a node's kubelet stopped (SIGSTOP) until it goes out of scope, so it restarts no
// container meanwhile: an agent killed in between stays down, as a crashed agent does until its
// kubelet's back-off ends.
class KubeletPause {
 public:
  KubeletPause(const Sandbox& sb, int node)
      : pid_(sb.componentPid("node-" + std::to_string(node) + "/kubelet")) {
    EXPECT_GT(pid_, 0) << "no kubelet of node-" << node << " in petrel-sandbox status";
    if (pid_ > 0) {
      EXPECT_EQ(::kill(pid_, SIGSTOP), 0) << strerror(errno);
    }
  }
  ~KubeletPause() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }
  KubeletPause(const KubeletPause&) = delete;
  KubeletPause& operator=(const KubeletPause&) = delete;

 private:
  pid_t pid_;
};

// A pod named and labelled app=<name>, bound to `node`, running petrel-workload.
inline std::string workloadPodOn(const std::string& name, const std::string& node) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", labels: {app: " + name +
         "}}\nspec:\n  nodeName: " + node +
         "\n  containers: [{name: main, image: petrel/workload}]\n---\n";
}

// `script` under sh in the named network namespace.
inline CmdResult inNetns(const std::string& netns, const std::string& script) {
  return run({"nsenter", "--net=/run/netns/" + netns, "sh", "-c", script}, {.timeout = 30s});
}

// curl in a pod's namespace (or on the host when netns is empty); the body, or "" on failure.
inline std::string httpGet(const std::string& netns, const std::string& url) {
  std::vector<std::string> argv = {"curl", "-s", "-m", "3", url};
  if (!netns.empty()) argv.insert(argv.begin(), {"nsenter", "--net=/run/netns/" + netns});
  auto r = run(argv, {.timeout = 10s});
  return r.ok() ? r.out : "";
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace petrel::e2e
