// End-to-end: petrel-sandbox as a user runs it. `up` builds the underlay and node namespaces and
// starts the real control plane, agents and kubelets; the real kubectl applies the example
// manifests; pods get addresses from the real petrel-cni and answer real HTTP/UDP clients; each
// node's pods run in the node's own cgroup, and `petrel-sandbox exec` runs a command as a node;
// `down` leaves nothing behind (cgroups included), also after a crash. The failure drills stop
// the API server for 30 s and kill an agent. Every sandbox here has its own prefix, subnets, port
// and state dir, so a user's sandbox on the same machine is not touched. Needs root, kubectl, curl,
// socat.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "test/e2e/harness.h"
#include "test/e2e/sandbox_cluster.h"

namespace petrel::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class SandboxE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireBasics());
    for (const char* tool : {"kubectl", "curl", "socat"}) ASSERT_TRUE(requireTool(tool));
    for (const char* bin : {"petrel-sandbox", "petrel-k8s", "petrel-kubelet", "petrel-workload"}) {
      ASSERT_TRUE(requireFile(binDir() / bin, "build it with scripts/build.sh"));
    }
  }
  std::string example() const { return (sourceDir() / "examples/sandbox/echo.yaml").string(); }
};

TEST_F(SandboxE2e, UpRunsPodsOnRealCniAndDownRemovesEverything) {
  Sandbox sb;
  ASSERT_TRUE(sb.up(2));
  auto nodes = sb.kubectlJson({"get", "nodes"});
  ASSERT_TRUE(nodes.is_object());
  ASSERT_EQ(nodes["items"].size(), 2u);
  for (const auto& n : nodes["items"]) {
    EXPECT_EQ(n["status"]["conditions"][0]["status"], "True") << n.dump();
  }

  ASSERT_TRUE(sb.kubectl({"apply", "-f", example()}).ok());
  ASSERT_TRUE(sb.waitReady({"echo-1", "echo-2", "echo-3", "client"}));
  auto pods = sb.pods();
  auto netns = sb.podNetns();
  const std::string client_node = pods["client"]["spec"]["nodeName"];
  std::set<std::string> ips;
  for (const auto& [name, pod] : pods) {
    const std::string node = pod["spec"]["nodeName"], ip = pod["status"]["podIP"];
    ips.insert(ip);
    // The address comes from the node's pod CIDR, and the namespace exists for `ip netns exec`.
    EXPECT_EQ(ip.rfind(sb.podCidrPrefix(std::stoi(node.substr(5))), 0), 0u) << name << " " << ip;
    ASSERT_FALSE(netns[name].empty()) << name;
    EXPECT_TRUE(fs::exists("/run/netns/" + netns[name])) << netns[name];
    if (name == "client") continue;
    // Every echo pod answers the host with its own name (host -> node -> pod).
    EXPECT_EQ(trim(httpGet("", "http://" + ip + ":8080/")), name);
    auto udp = sh("echo hello | socat -t 2 - UDP:" + ip + ":9001", {.timeout = 10s});
    EXPECT_EQ(trim(udp.out), name + " hello") << udp.describe();
    // Pod to pod on the same node.
    if (node == client_node) {
      EXPECT_EQ(trim(httpGet(netns["client"], "http://" + ip + ":8080/")), name);
    }
  }
  EXPECT_EQ(ips.size(), 4u);

  // Each node has its own cgroup; its agent attaches socket hooks there and its pods' processes
  // run in it (joined before exec, so from their first instruction).
  json st = sb.status();
  ASSERT_TRUE(st.is_object());
  for (int i = 1; i <= 2; ++i) {
    const std::string cg = st["nodes"][i - 1].value("cgroup", "");
    EXPECT_EQ(cg, cgroup2Mount() + sb.nodeCgroupPath(i));
    EXPECT_TRUE(fs::exists(cg + "/cgroup.procs")) << cg;
  }
  auto endsWith = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  auto unifiedCgroup = [](const std::string& proc_cgroup) {
    std::istringstream lines(proc_cgroup);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("0::", 0) == 0) return line.substr(3);
    }
    return std::string();
  };
  for (const auto& [name, pod] : pods) {
    const std::string node = pod["spec"]["nodeName"];
    auto pids = run({"ip", "netns", "pids", netns[name]});
    ASSERT_TRUE(pids.ok()) << pids.describe();
    std::istringstream list(pids.out);
    int checked = 0;
    for (pid_t pid; list >> pid; ++checked) {
      std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
      std::stringstream read;
      read << in.rdbuf();
      const std::string text = read.str();
      EXPECT_TRUE(endsWith(unifiedCgroup(text), sb.nodeCgroupPath(std::stoi(node.substr(5)))))
          << name << " pid " << pid << " is in " << text;
    }
    EXPECT_GT(checked, 0) << "no process in " << netns[name];
  }
  // `petrel-sandbox exec` runs a command as the node: in its cgroup and network namespace.
  auto as_node = sb.cli({"exec", "node-1", "--", "cat", "/proc/self/cgroup"});
  ASSERT_TRUE(as_node.ok()) << as_node.describe();
  EXPECT_TRUE(endsWith(unifiedCgroup(as_node.out), sb.nodeCgroupPath(1))) << as_node.out;
  auto node_ns = sb.cli({"exec", "node-1", "--", "readlink", "/proc/self/ns/net"});
  ASSERT_TRUE(node_ns.ok()) << node_ns.describe();
  struct stat ns_file {};
  ASSERT_EQ(::stat(("/run/netns/" + sb.prefix() + "-node-1").c_str(), &ns_file), 0);
  EXPECT_EQ(trim(node_ns.out), "net:[" + std::to_string(ns_file.st_ino) + "]");
  EXPECT_EQ(sb.cli({"exec", "node-9", "--", "true"}).exitCode, 127);

  // The EndpointSlice controller lists the three ready echo pods.
  auto slices = sb.kubectlJson({"get", "endpointslices", "-l", "kubernetes.io/service-name=echo"});
  ASSERT_TRUE(slices.is_object());
  ASSERT_EQ(slices["items"].size(), 1u);
  EXPECT_EQ(slices["items"][0]["endpoints"].size(), 3u);

  // Petrel's CRD is installed, a PetrelNode names each node's pod CIDR, and agents cache them.
  auto petrel_nodes = sb.kubectlJson({"get", "petrelnodes"});
  ASSERT_TRUE(petrel_nodes.is_object());
  ASSERT_EQ(petrel_nodes["items"].size(), 2u);
  EXPECT_EQ(petrel_nodes["items"][0]["spec"]["ipam"]["podCIDRs"][0], sb.podCidrPrefix(1) + "0/24");
  auto agent_status =
      run({(binDir() / "petrel").string(), "status", "-o", "json", "--socket", sb.agentSocket(1)});
  ASSERT_TRUE(agent_status.ok()) << agent_status.describe();
  bool cached = false;
  const json agent_json = json::parse(agent_status.out);
  for (const auto& c : agent_json["kubernetes"]["caches"]) {
    if (c["kind"] == "PetrelNode") cached = c["synced"] == true && c["objects"] == 2;
  }
  EXPECT_TRUE(cached) << agent_status.out;

  // The node's agent has the pods as endpoints.
  auto eps = run({(binDir() / "petrel").string(), "endpoint", "list", "-o", "json", "--socket",
                  sb.agentSocket(std::stoi(client_node.substr(5)))});
  ASSERT_TRUE(eps.ok()) << eps.describe();
  EXPECT_NE(eps.out.find(pods["client"]["status"]["podIP"].get<std::string>()), std::string::npos)
      << eps.out;

  // Deleting a pod stops it, tears its network down and takes it out of the slice.
  const std::string gone_ns = netns["echo-1"];
  auto del = sb.kubectl({"delete", "pod", "echo-1"}, 60s);
  ASSERT_TRUE(del.ok()) << del.describe();
  EXPECT_FALSE(fs::exists("/run/netns/" + gone_ns));
  EXPECT_FALSE(sb.pods().count("echo-1"));
  bool two = false;
  for (int i = 0; i < 40 && !two; ++i, std::this_thread::sleep_for(250ms)) {
    auto s = sb.kubectlJson({"get", "endpointslices", "-l", "kubernetes.io/service-name=echo"});
    two = s.is_object() && s["items"].size() == 1 && s["items"][0]["endpoints"].size() == 2;
  }
  EXPECT_TRUE(two) << "the slice still lists echo-1";

  auto down = sb.cli({"down"});
  ASSERT_TRUE(down.ok()) << down.describe();
  EXPECT_FALSE(fs::exists(sb.cgroupRoot())) << "down left the node cgroups";
  EXPECT_EQ(sb.leftovers(), std::vector<std::string>{});
}

TEST_F(SandboxE2e, DownCleansUpAfterACrash) {
  Sandbox sb;
  ASSERT_TRUE(sb.up(1));
  ASSERT_TRUE(sb.kubectl({"apply", "-f", example()}).ok());
  ASSERT_TRUE(sb.waitReady({"echo-1", "echo-2", "echo-3", "client"}));
  // Crash: every component dies at once and the state file is lost.
  json st = sb.status();
  ASSERT_TRUE(st.is_object());
  for (const auto& c : st["components"]) ::kill(c["pid"].get<pid_t>(), SIGKILL);
  fs::remove(sb.stateDir() + "/sandbox.json");
  auto left = sb.leftovers();
  ASSERT_FALSE(left.empty());
  // The node cgroup still holds the pods' processes; down finds it by its prefix.
  EXPECT_NE(std::find(left.begin(), left.end(), "cgroup " + sb.cgroupRoot()), left.end());
  auto down = sb.cli({"down", "--prefix", sb.prefix()});
  ASSERT_TRUE(down.ok()) << down.describe();
  EXPECT_EQ(sb.leftovers(), std::vector<std::string>{});
  // And a new sandbox comes up in the same place.
  ASSERT_TRUE(sb.up(1));
}

// The API server is away for 30 s: pods keep talking; afterwards kubelets, agents and the
// controller manager reconnect and act on changes made right after it returns (while they still
// back off).
TEST_F(SandboxE2e, ApiServerDownThirtySecondsThenBack) {
  Sandbox sb;
  ASSERT_TRUE(sb.up(1));
  ASSERT_TRUE(sb.kubectl({"apply", "-f", example()}).ok());
  ASSERT_TRUE(sb.waitReady({"echo-1", "echo-2", "echo-3", "client"}));
  auto pods = sb.pods();
  auto netns = sb.podNetns();
  const std::string echo2 = pods["echo-2"]["status"]["podIP"];

  json st = sb.status();
  pid_t api = 0;
  for (const auto& c : st["components"]) {
    if (c["name"] == "apiserver") api = c["pid"];
  }
  ASSERT_GT(api, 0);
  ASSERT_EQ(::kill(api, SIGKILL), 0);
  int failures = 0, tries = 0;
  for (auto end = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(500ms)) {
    ++tries;
    if (trim(httpGet(netns["client"], "http://" + echo2 + ":8080/")) != "echo-2") ++failures;
  }
  EXPECT_EQ(failures, 0) << "of " << tries << " requests during the outage";
  EXPECT_FALSE(sb.kubectl({"get", "pods"}, 5s).ok());

  auto restart = sb.cli({"restart", "apiserver"});
  ASSERT_TRUE(restart.ok()) << restart.describe();
  for (int i = 0; i < 100 && !sb.kubectl({"get", "--raw", "/readyz"}, 5s).ok(); ++i) {
    std::this_thread::sleep_for(100ms);
  }
  // Changes while the node's components still wait to reconnect.
  ASSERT_TRUE(sb.kubectl({"delete", "pod", "echo-3", "--wait=false"}).ok());
  ASSERT_TRUE(sb.kubectl({"run", "late", "--image=petrel/workload", "--restart=Never"}).ok());
  ASSERT_TRUE(sb.createService("after-outage"));
  ASSERT_TRUE(sb.waitReady({"late"}, 90s));
  bool gone = false;
  for (int i = 0; i < 240 && !gone; ++i, std::this_thread::sleep_for(250ms)) {
    gone = !sb.pods().count("echo-3");
  }
  EXPECT_TRUE(gone) << "echo-3 was not stopped and removed after the API server came back";
  EXPECT_FALSE(fs::exists("/run/netns/" + netns["echo-3"]));
  const std::string late_ip = sb.pods()["late"]["status"]["podIP"];
  EXPECT_EQ(trim(httpGet(netns["client"], "http://" + late_ip + ":8080/")), "late");

  // The agent's caches converge: it lists the new pod and no longer the deleted one (and the
  // node's other pods, CoreDNS's among them: as many as the API has on node-1).
  const size_t pods_on_node =
      sb.kubectlJson({"get", "pods", "-A", "--field-selector", "spec.nodeName=node-1"})
          .value("items", json::array())
          .size();
  EXPECT_EQ(sb.pods().count("late"), 1u);
  bool converged = false;
  std::string last;
  for (int i = 0; i < 120 && !converged; ++i, std::this_thread::sleep_for(250ms)) {
    auto s = run(
        {(binDir() / "petrel").string(), "status", "-o", "json", "--socket", sb.agentSocket(1)});
    last = s.out;
    json j = json::parse(s.out, nullptr, false);
    if (!j.is_object()) continue;
    bool pods_ok = false, services_ok = false;
    for (const auto& c : j["kubernetes"].value("caches", json::array())) {
      if (c.value("kind", "") == "Pod")
        pods_ok = c.value("synced", false) && c.value("objects", size_t{0}) == pods_on_node;
      if (c.value("kind", "") == "Service") services_ok = c.value("objects", 0) >= 2;
    }
    converged = pods_ok && services_ok;
  }
  EXPECT_TRUE(converged) << "agent status: " << last;
}

// An agent killed and started again: pods keep their addresses and connectivity, and the agent
// rebuilds its caches, including objects changed while it was down.
TEST_F(SandboxE2e, AgentRestartKeepsPodsAndRebuildsCaches) {
  Sandbox sb;
  ASSERT_TRUE(sb.up(1));
  ASSERT_TRUE(sb.kubectl({"apply", "-f", example()}).ok());
  ASSERT_TRUE(sb.waitReady({"echo-1", "echo-2", "echo-3", "client"}));
  auto before = sb.pods();
  auto netns = sb.podNetns();
  const std::string echo1 = before["echo-1"]["status"]["podIP"];

  const pid_t agent = sb.componentPid("node-1/agent");
  ASSERT_GT(agent, 0) << sb.status().dump(1);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, requests{0};
  std::thread traffic([&] {
    while (!stop) {
      ++requests;
      if (trim(httpGet(netns["client"], "http://" + echo1 + ":8080/")) != "echo-1") ++failures;
      std::this_thread::sleep_for(100ms);
    }
  });
  JoinOnExit joiner(stop, traffic);
  {
    KubeletPause kubelet(sb, 1);  // the agent stays down until its kubelet starts it again
    ::kill(agent, SIGKILL);
    ASSERT_TRUE(sb.createService("while-away"));
    std::this_thread::sleep_for(2s);
  }
  bool synced = false;
  std::string last;
  for (int i = 0; i < 120 && !synced; ++i, std::this_thread::sleep_for(250ms)) {
    auto s = run(
        {(binDir() / "petrel").string(), "status", "-o", "json", "--socket", sb.agentSocket(1)});
    last = s.out;
    json j = json::parse(s.out, nullptr, false);
    if (!j.is_object()) continue;
    synced = true;
    for (const auto& c : j["kubernetes"].value("caches", json::array())) {
      synced = synced && c.value("synced", false);
      if (c.value("kind", "") == "Service") synced = synced && c.value("objects", 0) >= 2;
    }
  }
  std::this_thread::sleep_for(2s);
  stop = true;
  traffic.join();
  EXPECT_TRUE(synced) << "agent status: " << last;
  EXPECT_EQ(failures.load(), 0) << "of " << requests.load() << " requests across the restart";
  auto after = sb.pods();
  for (const auto& [name, pod] : before) {
    EXPECT_EQ(after[name]["status"]["podIP"], pod["status"]["podIP"]) << name;
  }
  auto eps = run({(binDir() / "petrel").string(), "endpoint", "list", "-o", "json", "--socket",
                  sb.agentSocket(1)});
  ASSERT_TRUE(eps.ok()) << eps.describe();
  for (const auto& [name, pod] : before) {
    EXPECT_NE(eps.out.find(pod["status"]["podIP"].get<std::string>()), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace petrel::e2e
