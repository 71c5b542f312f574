// End-to-end: pod traffic leaving the cluster is masqueraded by BPF to the node's address, in
// both routing modes. A server in the sandbox's underlay namespace (which has no route to any pod
// CIDR, so only translated traffic can be answered) sees the node IP as the client over TCP, and
// answers UDP and ping; traffic inside the cluster and flows opened from outside keep the pod
// address; `petrel bpf nat list` shows the flows; a ping through the NAT loses nothing while the
// agent restarts. Needs root, kubectl, curl, socat, ping.
#include <thread>

#include "test/e2e/harness.h"
#include "test/e2e/sandbox_cluster.h"

namespace petrel::e2e {
namespace {

using nlohmann::json;

// The "client" field of petrel-workload's /json answer, without the port.
std::string clientIp(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("client")) return "(no answer: '" + body + "')";
  std::string client = j["client"];
  return client.substr(0, client.rfind(':'));
}

class Masquerade : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireBasics());
    for (const char* tool : {"kubectl", "curl", "socat", "ping"}) ASSERT_TRUE(requireTool(tool));
    ASSERT_TRUE(requireFile(binDir() / "petrel-sandbox", "build it with scripts/build.sh"));
  }
  // petrel-workload named "outside" in the underlay namespace, at the underlay router's address.
  std::unique_ptr<BackgroundProcess> startOutsideServer(const Sandbox& sb) {
    auto server = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"nsenter", "--net=/run/netns/" + sb.underlayNetns(),
                                 (binDir() / "petrel-workload").string(), "--name", "outside"},
        sb.stateDir() + "/outside.log");
    const std::string url = "http://" + sb.underlayIp(1) + ":8080/";
    for (int i = 0; i < 50 && trim(httpGet(sb.underlayNetns(), url)) != "outside"; ++i) {
      std::this_thread::sleep_for(100ms);
    }
    return server;
  }
  // A pod on node `node` reaches the outside as that node: TCP shows the node IP, UDP and ping
  // are answered although the outside has no route back to pods.
  void expectMasqueraded(const Sandbox& sb, const std::string& pod_netns, int node) {
    SCOPED_TRACE("pod on node-" + std::to_string(node));
    const std::string outside = sb.underlayIp(1);
    EXPECT_EQ(clientIp(httpGet(pod_netns, "http://" + outside + ":8080/json")), sb.nodeIp(node));
    auto udp = inNetns(pod_netns, "echo hi | socat -t 2 - UDP:" + outside + ":9001");
    EXPECT_EQ(trim(udp.out), "outside hi") << udp.describe();
    auto ping = inNetns(pod_netns, "ping -c 2 -W 2 " + outside);
    EXPECT_TRUE(ping.ok()) << ping.describe();
  }
  json natList(const Sandbox& sb, int node) {
    auto r = run({(binDir() / "petrel").string(), "bpf", "nat", "list", "-o", "json", "--bpf-root",
                  sb.bpfRoot(node)});
    EXPECT_TRUE(r.ok()) << r.describe();
    return json::parse(r.out, nullptr, false);
  }
};

TEST_F(Masquerade, PodsReachTheOutsideAsTheirNodeInTunnelMode) {
  Sandbox sb;
  ASSERT_TRUE(sb.up(3));
  ASSERT_TRUE(sb.apply(workloadPodOn("a", "node-1") + workloadPodOn("b", "node-2") +
                       workloadPodOn("c", "node-3")));
  ASSERT_TRUE(sb.waitReady({"a", "b", "c"}));
  auto server = startOutsideServer(sb);
  auto pods = sb.pods();
  auto netns = sb.podNetns();
  expectMasqueraded(sb, netns["a"], 1);
  expectMasqueraded(sb, netns["b"], 2);
  expectMasqueraded(sb, netns["c"], 3);

  // Inside the cluster the pod address is kept.
  const std::string a_ip = pods["a"]["status"]["podIP"], b_ip = pods["b"]["status"]["podIP"];
  EXPECT_EQ(clientIp(httpGet(netns["a"], "http://" + b_ip + ":8080/json")), a_ip);
  // A flow opened from outside (this machine routes pod CIDRs through the nodes) is answered
  // from the pod address, over TCP and UDP.
  EXPECT_EQ(clientIp(httpGet("", "http://" + a_ip + ":8080/json")), sb.underlayIp(254));
  auto udp_in = run({"sh", "-c", "echo hi | socat -t 2 - UDP:" + a_ip + ":9001"});
  EXPECT_EQ(trim(udp_in.out), "a hi") << udp_in.describe();

  // The NAT map on node-1 holds a's TCP flow to the outside, translated to node-1's address.
  json flows = natList(sb, 1);
  ASSERT_TRUE(flows.is_array()) << flows.dump();
  bool found = false;
  for (const auto& f : flows) {
    if (f["proto"] == "TCP" && f["direction"] == "egress" &&
        f["destination"] == sb.underlayIp(1) + ":8080") {
      found = true;
      EXPECT_EQ(f["source"].get<std::string>().rfind(a_ip + ":", 0), 0u) << f.dump();
      EXPECT_EQ(f["translated"].get<std::string>().rfind(sb.nodeIp(1) + ":", 0), 0u) << f.dump();
    }
  }
  EXPECT_TRUE(found) << flows.dump(2);
}

TEST_F(Masquerade, PodsReachTheOutsideAsTheirNodeInNativeMode) {
  Sandbox sb;
  ASSERT_TRUE(sb.up(3, {"--routing-mode", "native"}));
  ASSERT_TRUE(sb.apply(workloadPodOn("a", "node-1") + workloadPodOn("b", "node-2") +
                       workloadPodOn("c", "node-3")));
  ASSERT_TRUE(sb.waitReady({"a", "b", "c"}));
  auto server = startOutsideServer(sb);
  auto pods = sb.pods();
  auto netns = sb.podNetns();
  expectMasqueraded(sb, netns["a"], 1);
  expectMasqueraded(sb, netns["b"], 2);
  expectMasqueraded(sb, netns["c"], 3);
  // Pod to pod crosses the uplink unencapsulated here, and still keeps the pod address.
  const std::string a_ip = pods["a"]["status"]["podIP"], b_ip = pods["b"]["status"]["podIP"];
  EXPECT_EQ(clientIp(httpGet(netns["a"], "http://" + b_ip + ":8080/json")), a_ip);
  EXPECT_EQ(clientIp(httpGet(netns["b"], "http://" + a_ip + ":8080/json")), b_ip);
}

// The NAT map is pinned and the attached programs keep running, so a translated flow carries on
// while the agent restarts.
TEST_F(Masquerade, TranslatedFlowSurvivesAnAgentRestart) {
  Sandbox sb;
  ASSERT_TRUE(sb.up(1));
  ASSERT_TRUE(sb.apply(workloadPodOn("a", "node-1")));
  ASSERT_TRUE(sb.waitReady({"a"}));
  auto server = startOutsideServer(sb);
  BackgroundProcess ping({"nsenter", "--net=/run/netns/" + sb.podNetns()["a"], "ping", "-c", "40",
                          "-i", "0.1", "-W", "1", sb.underlayIp(1)},
                         sb.stateDir() + "/ping.log");
  // The restart comes once the flow is translated and answered.
  auto answered = [&] {
    const std::string log = ping.log();
    size_t n = 0;
    for (auto at = log.find(" bytes from "); at != std::string::npos;
         at = log.find(" bytes from ", at + 1))
      ++n;
    return n >= 5;
  };
  ASSERT_TRUE(waitUntil(answered, 5s, 20ms)) << ping.log();
  auto restart = sb.cli({"restart", "node-1/agent"});
  ASSERT_TRUE(restart.ok()) << restart.describe();
  auto status = ping.wait(20s);
  ASSERT_TRUE(status.has_value()) << "ping did not finish: " << ping.log();
  EXPECT_EQ(*status, 0) << ping.log();
  EXPECT_NE(ping.log().find(" 0% packet loss"), std::string::npos) << ping.log();
  expectMasqueraded(sb, sb.podNetns()["a"], 1);
}

}  // namespace
}  // namespace petrel::e2e
