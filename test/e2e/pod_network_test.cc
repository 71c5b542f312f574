// Node-local end-to-end tests: one node netns running the real petrel-agent, pods in their own
// netns wired by the real petrel-cni, and real traffic (ping, TCP, iperf3) between them.
#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

constexpr const char* kGateway = "10.244.0.1";

// True if the endpoint list (any JSON shape) mentions `value` as a string.
bool mentions(const nlohmann::json& endpoints, const std::string& value) {
  return endpoints.dump().find("\"" + value + "\"") != std::string::npos;
}

class PodNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireBasics());
    for (const char* tool : {"ping", "socat", "iperf3"}) ASSERT_TRUE(requireTool(tool));
    node_ = std::make_unique<Netns>("pe2en");
    agent_ = std::make_unique<AgentProcess>(*node_);
    ASSERT_TRUE(agent_->start());
  }

  void TearDown() override {
    servers_.clear();
    pods_.clear();
    agent_.reset();
    node_.reset();
  }

  CniPod& addPod() {
    pods_.push_back(std::make_unique<CniPod>(*node_, *agent_));
    CniPod& pod = *pods_.back();
    auto r = pod.add();
    EXPECT_TRUE(r);
    return pod;
  }

  // A socat TCP echo server in `pod` on `port`; returns once it accepts connections.
  void startEcho(const CniPod& pod, uint16_t port) {
    servers_.push_back(std::make_unique<BackgroundProcess>(
        pod.netns().wrap(
            {"socat", "TCP-LISTEN:" + std::to_string(port) + ",reuseaddr,fork", "EXEC:cat"}),
        "/dev/null"));
    bool listening = waitUntil(
        [&] { return pod.netns().sh("ss -Htln | grep -q ':" + std::to_string(port) + " '").ok(); },
        5s);
    ASSERT_TRUE(listening) << "echo server did not start in " << pod.netns().name();
  }

  // Sends a unique line through a TCP echo at ip:port from `from` and expects it back.
  ::testing::AssertionResult tcpEcho(const Netns& from, const std::string& ip, uint16_t port) {
    std::string token = uniqueName("hello");
    RunOptions options;
    options.input = token + "\n";
    options.timeout = 10s;
    CmdResult r = from.exec(
        {"socat", "-T3", "-", "TCP:" + ip + ":" + std::to_string(port) + ",connect-timeout=3"},
        options);
    if (!r.ok() || r.out.find(token) == std::string::npos) {
      return ::testing::AssertionFailure() << "TCP echo " << from.name() << " -> " << ip << ":"
                                           << port << " failed: " << r.describe();
    }
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult ping(const Netns& from, const std::string& ip) {
    CmdResult r = from.exec({"ping", "-c", "2", "-i", "0.2", "-W", "2", ip});
    if (!r.ok()) {
      return ::testing::AssertionFailure()
             << "ping " << from.name() << " -> " << ip << ": " << r.describe();
    }
    return ::testing::AssertionSuccess();
  }

  std::unique_ptr<Netns> node_;
  std::unique_ptr<AgentProcess> agent_;
  std::vector<std::unique_ptr<CniPod>> pods_;
  std::vector<std::unique_ptr<BackgroundProcess>> servers_;
};

TEST_F(PodNetworkTest, AddWiresPodInterfaceAddressAndRoute) {
  CniPod& pod = addPod();
  ASSERT_TRUE(pod.added());
  const std::string ip = pod.ip();
  ASSERT_FALSE(ip.empty()) << "no IPv4 address in the CNI result: " << pod.result().dump();
  EXPECT_EQ(ip.rfind("10.244.0.", 0), 0u) << "address " << ip << " outside the pod CIDR";
  EXPECT_NE(ip, kGateway) << "the gateway address was handed to a pod";

  // Inside the pod: eth0 with ip/32 and a default route via the gateway.
  CmdResult addr = pod.netns().exec({"ip", "-4", "-o", "addr", "show", "dev", "eth0"});
  ASSERT_TRUE(addr.ok()) << addr.describe();
  EXPECT_NE(addr.out.find(ip + "/32"), std::string::npos) << addr.out;
  CmdResult route = pod.netns().exec({"ip", "-4", "route", "show", "default"});
  EXPECT_NE(route.out.find(std::string("via ") + kGateway), std::string::npos) << route.out;

  // On the node: the host-side veth lxc<12 hex> exists and is up.
  const std::string host = pod.hostIfname();
  ASSERT_FALSE(host.empty()) << "no host interface in the CNI result: " << pod.result().dump();
  EXPECT_EQ(host.rfind("lxc", 0), 0u) << host;
  EXPECT_EQ(host.size(), 15u) << host;
  CmdResult link = node_->exec({"ip", "-o", "link", "show", "dev", host});
  ASSERT_TRUE(link.ok()) << link.describe();
  EXPECT_NE(link.out.find("state UP"), std::string::npos) << link.out;

  // The agent attached its tc program to the host veth.
  CmdResult tc = node_->exec({"tc", "filter", "show", "dev", host, "ingress"});
  EXPECT_NE(tc.out.find("bpf"), std::string::npos)
      << "no BPF filter on " << host << ": " << tc.describe();

  // CHECK against the live state passes.
  CmdResult check = pod.call("CHECK");
  EXPECT_TRUE(check.ok()) << "CHECK: " << check.describe();
}

TEST_F(PodNetworkTest, PodToPodPingAndTcp) {
  CniPod& a = addPod();
  CniPod& b = addPod();
  CniPod& c = addPod();
  ASSERT_TRUE(a.added() && b.added() && c.added());
  std::set<std::string> ips = {a.ip(), b.ip(), c.ip()};
  ASSERT_EQ(ips.size(), 3u) << "pods share addresses: " << a.ip() << " " << b.ip() << " " << c.ip();

  EXPECT_TRUE(ping(a.netns(), b.ip()));
  EXPECT_TRUE(ping(b.netns(), c.ip()));
  EXPECT_TRUE(ping(c.netns(), a.ip()));

  uint16_t port = uniquePort();
  startEcho(b, port);
  startEcho(c, port);
  EXPECT_TRUE(tcpEcho(a.netns(), b.ip(), port));
  EXPECT_TRUE(tcpEcho(a.netns(), c.ip(), port));
  // Many short connections in a row, both directions through the datapath.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(tcpEcho(a.netns(), b.ip(), port)) << "round " << i;
}

TEST_F(PodNetworkTest, PodToNodeAndNodeToPod) {
  CniPod& a = addPod();
  ASSERT_TRUE(a.added());
  EXPECT_TRUE(ping(a.netns(), kGateway));
  EXPECT_TRUE(ping(*node_, a.ip()));

  uint16_t port = uniquePort();
  startEcho(a, port);
  EXPECT_TRUE(tcpEcho(*node_, a.ip(), port));

  // And a server on the node, reached from the pod at the gateway address.
  uint16_t nodePort = uniquePort();
  BackgroundProcess nodeServer(
      node_->wrap(
          {"socat", "TCP-LISTEN:" + std::to_string(nodePort) + ",reuseaddr,fork", "EXEC:cat"}),
      "/dev/null");
  ASSERT_TRUE(waitUntil(
      [&] { return node_->sh("ss -Htln | grep -q ':" + std::to_string(nodePort) + " '").ok(); },
      5s));
  EXPECT_TRUE(tcpEcho(a.netns(), kGateway, nodePort));
}

TEST_F(PodNetworkTest, EndpointListShowsPodsAndDelRemovesEverything) {
  CniPod& a = addPod();
  CniPod& b = addPod();
  ASSERT_TRUE(a.added() && b.added());

  std::string error;
  nlohmann::json eps = agent_->endpoints(&error);
  ASSERT_FALSE(eps.is_null()) << error;
  EXPECT_TRUE(mentions(eps, a.ip())) << eps.dump(2);
  EXPECT_TRUE(mentions(eps, b.ip())) << eps.dump(2);
  EXPECT_TRUE(mentions(eps, a.containerId())) << eps.dump(2);
  EXPECT_TRUE(mentions(eps, a.hostIfname())) << eps.dump(2);
  ASSERT_TRUE(eps.is_array()) << eps.dump(2);
  EXPECT_EQ(eps.size(), 2u) << eps.dump(2);
  // The datapath's pinned endpoint map holds both pods too.
  nlohmann::json pinned = agent_->bpfEndpoints(&error);
  ASSERT_FALSE(pinned.is_null()) << error;
  EXPECT_TRUE(mentions(pinned, a.ip())) << pinned.dump(2);
  EXPECT_TRUE(mentions(pinned, b.ip())) << pinned.dump(2);
  // `petrel status` shows how full the endpoint map is.
  CmdResult st = agent_->cli({"status", "-o", "json"});
  ASSERT_TRUE(st.ok()) << st.describe();
  auto status = nlohmann::json::parse(st.out, nullptr, false);
  ASSERT_TRUE(status.is_object() && status.contains("maps")) << st.out;
  bool listed = false;
  for (const auto& m : status["maps"]) {
    if (m.value("name", "") != "petrel_endpoints") continue;
    listed = true;
    EXPECT_EQ(m.value("entries", 0), 2) << m.dump();
    EXPECT_EQ(m.value("capacity", 0), 65536) << m.dump();
    EXPECT_EQ(m.value("refusedWrites", 1), 0) << m.dump();
  }
  EXPECT_TRUE(listed) << st.out;

  const std::string host = a.hostIfname();
  const std::string ip = a.ip();
  ASSERT_TRUE(a.del());

  // Nothing of pod a is left: host veth, pod interface, endpoint, reachability.
  auto links = node_->links();
  EXPECT_EQ(std::count(links.begin(), links.end(), host), 0) << host << " still on the node";
  EXPECT_FALSE(a.netns().exec({"ip", "link", "show", "dev", "eth0"}).ok())
      << "eth0 still in the pod netns after DEL";
  eps = agent_->endpoints(&error);
  ASSERT_FALSE(eps.is_null()) << error;
  EXPECT_FALSE(mentions(eps, ip)) << eps.dump(2);
  EXPECT_FALSE(mentions(eps, a.containerId())) << eps.dump(2);
  EXPECT_TRUE(mentions(eps, b.ip())) << eps.dump(2);
  pinned = agent_->bpfEndpoints(&error);
  ASSERT_FALSE(pinned.is_null()) << error;
  EXPECT_FALSE(mentions(pinned, ip)) << "endpoint map entry left after DEL: " << pinned.dump(2);
  EXPECT_TRUE(mentions(pinned, b.ip())) << pinned.dump(2);
  EXPECT_FALSE(b.netns().exec({"ping", "-c", "1", "-W", "1", ip}).ok())
      << "deleted pod address still answers";
  CmdResult route = node_->exec({"ip", "-4", "route", "show", ip});
  EXPECT_TRUE(route.out.empty()) << "route to deleted pod left behind: " << route.out;

  // DEL is idempotent: again, and for a netns that is already gone.
  CmdResult again = a.call("DEL");
  EXPECT_TRUE(again.ok()) << "second DEL: " << again.describe();
}

TEST_F(PodNetworkTest, AddressesAreNeverReused) {
  std::set<std::string> seen;
  for (int i = 0; i < 5; ++i) {
    CniPod pod(*node_, *agent_);
    ASSERT_TRUE(pod.add());
    const std::string ip = pod.ip();
    EXPECT_TRUE(seen.insert(ip).second) << "address " << ip << " handed out twice";
    ASSERT_TRUE(pod.del());
  }
  // Also across a clean restart of the agent.
  ASSERT_TRUE(agent_->restart());
  CniPod pod(*node_, *agent_);
  ASSERT_TRUE(pod.add());
  EXPECT_TRUE(seen.insert(pod.ip()).second) << "address " << pod.ip() << " reused after restart";
}

// The CNI 1.1 verbs against the real agent: STATUS, GC with valid attachments, and the error
// codes a runtime sees while the agent is down (50 for STATUS, 11 "try again later" for ADD).
TEST_F(PodNetworkTest, CniStatusGcAndAgentDown) {
  CniPod& keep = addPod();
  CniPod& stale = addPod();
  ASSERT_TRUE(keep.added() && stale.added());
  const std::string staleHost = stale.hostIfname();
  const std::string staleIp = stale.ip();

  nlohmann::json config = petrelCniConfig(*agent_, "1.1.0");
  CniCall status;
  status.command = "STATUS";
  status.config = config;
  CmdResult st = runCni(*node_, *agent_, status);
  EXPECT_TRUE(st.ok()) << "STATUS with the agent up: " << st.describe();

  CniCall gc;
  gc.command = "GC";
  gc.config = config;
  gc.config["cni.dev/valid-attachments"] = {
      {{"containerID", keep.containerId()}, {"ifname", "eth0"}}};
  CmdResult g = runCni(*node_, *agent_, gc);
  ASSERT_TRUE(g.ok()) << "GC: " << g.describe();
  std::string error;
  nlohmann::json eps = agent_->endpoints(&error);
  ASSERT_FALSE(eps.is_null()) << error;
  EXPECT_TRUE(mentions(eps, keep.ip())) << "GC released a valid attachment: " << eps.dump(2);
  EXPECT_FALSE(mentions(eps, staleIp)) << "GC kept a stale attachment: " << eps.dump(2);
  EXPECT_FALSE(mentions(eps, stale.containerId())) << eps.dump(2);
  auto links = node_->links();
  EXPECT_EQ(std::count(links.begin(), links.end(), staleHost), 0)
      << "GC left the stale host veth " << staleHost;
  EXPECT_TRUE(ping(keep.netns(), kGateway)) << "GC broke the valid pod";

  // Agent down: STATUS says "plugin not available" (50), ADD says "try again later" (11) and
  // leaves nothing behind on the node.
  ASSERT_TRUE(agent_->stop());
  CmdResult down = runCni(*node_, *agent_, status);
  EXPECT_FALSE(down.ok());
  auto downJson = nlohmann::json::parse(down.out, nullptr, false);
  EXPECT_TRUE(downJson.is_object() && downJson.value("code", 0) == 50) << down.describe();

  CniPod late(*node_, *agent_);
  CmdResult add = late.call("ADD");
  EXPECT_FALSE(add.ok());
  auto addJson = nlohmann::json::parse(add.out, nullptr, false);
  EXPECT_TRUE(addJson.is_object() && addJson.value("code", 0) == 11) << add.describe();
  auto after = node_->links();
  EXPECT_EQ(std::count_if(after.begin(), after.end(),
                          [](const std::string& l) { return l.rfind("lxc", 0) == 0; }),
            1)
      << "a failed ADD left a host veth behind";
  EXPECT_FALSE(late.netns().exec({"ip", "link", "show", "dev", "eth0"}).ok())
      << "a failed ADD left eth0 in the pod";

  // Back up: the same pod can be added, with an address never used before.
  ASSERT_TRUE(agent_->start());
  ASSERT_TRUE(late.add());
  EXPECT_NE(late.ip(), staleIp) << "address released by GC was handed out again";
  EXPECT_NE(late.ip(), keep.ip());
  EXPECT_TRUE(ping(late.netns(), keep.ip()));
}

TEST_F(PodNetworkTest, TrafficSurvivesAgentKillAndRestartReadopts) {
  CniPod& client = addPod();
  CniPod& server = addPod();
  CniPod& gone = addPod();
  ASSERT_TRUE(client.added() && server.added() && gone.added());
  std::set<std::string> handed = {client.ip(), server.ip(), gone.ip()};
  ASSERT_TRUE(gone.del());  // its address must stay retired across the restart

  uint16_t port = uniquePort();
  BackgroundProcess iperfServer(
      server.netns().wrap({"iperf3", "-s", "-1", "-p", std::to_string(port)}), "/dev/null");
  ASSERT_TRUE(waitUntil(
      [&] { return server.netns().sh("ss -Htln | grep -q ':" + std::to_string(port) + " '").ok(); },
      5s));

  // A 20 s stream, interval reports every second, JSON to a file we parse afterwards.
  TempDir tmp;
  const auto report = tmp / "iperf.json";
  BackgroundProcess stream(
      client.netns().wrap({"/bin/sh", "-c",
                           "iperf3 -c " + server.ip() + " -p " + std::to_string(port) +
                               " -t 20 -i 1 -J > " + report.string()}),
      tmp / "iperf.log");

  std::this_thread::sleep_for(4s);
  ASSERT_TRUE(agent_->kill9());
  std::this_thread::sleep_for(5s);
  // With the agent dead, the datapath still forwards and the pinned maps are readable.
  EXPECT_TRUE(ping(client.netns(), server.ip()));
  std::string pinError;
  nlohmann::json pinned = agent_->bpfEndpoints(&pinError);
  ASSERT_FALSE(pinned.is_null()) << pinError;
  EXPECT_TRUE(mentions(pinned, client.ip()) && mentions(pinned, server.ip())) << pinned.dump(2);
  ASSERT_TRUE(agent_->start());

  auto status = stream.wait(40s);
  ASSERT_TRUE(status.has_value()) << "iperf3 client still running after 40 s";
  EXPECT_EQ(*status, 0) << stream.log();
  std::ifstream in(report);
  auto j = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "iperf3 printed no JSON: " << stream.log();
  ASSERT_FALSE(j.contains("error")) << j["error"];
  const auto& intervals = j["intervals"];
  ASSERT_GE(intervals.size(), 19u) << "stream ended early: " << j.dump().substr(0, 2000);
  for (size_t i = 0; i < intervals.size(); ++i) {
    double bytes = intervals[i]["sum"]["bytes"].get<double>();
    EXPECT_GT(bytes, 1e6) << "interval " << i << " carried only " << bytes
                          << " bytes: the stream stalled around the agent restart";
  }
  double received = j["end"]["sum_received"]["bytes"].get<double>();
  EXPECT_GT(received, 1e8) << "only " << received << " bytes received in 20 s";

  // The restarted agent re-adopted the live endpoints and forgot the deleted one.
  std::string error;
  nlohmann::json eps = agent_->endpoints(&error);
  ASSERT_FALSE(eps.is_null()) << error;
  EXPECT_TRUE(mentions(eps, client.ip())) << eps.dump(2);
  EXPECT_TRUE(mentions(eps, server.ip())) << eps.dump(2);
  EXPECT_FALSE(mentions(eps, gone.containerId())) << eps.dump(2);

  // New pods get new addresses, and they reach the old ones.
  CniPod& fresh = addPod();
  ASSERT_TRUE(fresh.added());
  EXPECT_EQ(handed.count(fresh.ip()), 0u) << "address " << fresh.ip() << " reused after restart";
  EXPECT_TRUE(ping(fresh.netns(), server.ip()));
  EXPECT_TRUE(ping(client.netns(), fresh.ip()));

  // A clean SIGTERM stop and start keeps the endpoints too.
  ASSERT_TRUE(agent_->stop());
  EXPECT_TRUE(ping(client.netns(), server.ip())) << "traffic stopped with the agent (SIGTERM)";
  ASSERT_TRUE(agent_->start());
  eps = agent_->endpoints(&error);
  ASSERT_FALSE(eps.is_null()) << error;
  EXPECT_TRUE(mentions(eps, fresh.ip())) << eps.dump(2);
  EXPECT_TRUE(mentions(eps, server.ip())) << eps.dump(2);
}

}  // namespace
}  // namespace petrel::e2e
