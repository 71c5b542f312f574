// End-to-end: pods on different nodes of a petrel-sandbox talk through Petrel's VXLAN overlay
// (the default collect_md device) — ICMP (also a 1400-byte don't-fragment ping), TCP (HTTP) and
// UDP, node to remote pod, pod to remote node, pod traffic received straight into the pod, the
// source identity as the VNI on the wire — and a node removed from the API loses its PetrelNode
// (petrel-operator), its tunnel route and (on a classic device) its forwarding entry until it is
// added back. Native routing mode is checked the same way.
// Needs root, kubectl, curl, socat, ping (and tcpdump for the VNI on the wire).
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "bpf/shared/maps.h"
#include "test/e2e/harness.h"
#include "test/e2e/sandbox_cluster.h"

namespace petrel::e2e {
namespace {

using nlohmann::json;

class Overlay : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireBasics());
    for (const char* tool : {"kubectl", "curl", "socat", "ping"}) ASSERT_TRUE(requireTool(tool));
    ASSERT_TRUE(requireFile(binDir() / "petrel-sandbox", "build it with scripts/build.sh"));
  }
  // Three nodes (the sandbox's `up` flags `extra`) with pods a, b and c on node-1, -2 and -3.
  static ::testing::AssertionResult upWithThreePods(Sandbox& sb,
                                                    const std::vector<std::string>& extra = {}) {
    auto up = sb.up(3, extra);
    if (!up) return up;
    auto applied = sb.apply(workloadPodOn("a", "node-1") + workloadPodOn("b", "node-2") +
                            workloadPodOn("c", "node-3"));
    if (!applied) return applied;
    return sb.waitReady({"a", "b", "c"});
  }
  // Pod a pings b and c (also with `df_payload` bytes and don't-fragment), fetches HTTP from
  // them and gets their UDP echo.
  static void expectATalksToBAndC(Sandbox& sb, int df_payload) {
    auto pods = sb.pods();
    const std::string a = sb.podNetns()["a"];
    for (const char* peer : {"b", "c"}) {
      const std::string ip = pods[peer]["status"]["podIP"];
      SCOPED_TRACE(std::string("a -> ") + peer + " " + ip);
      EXPECT_TRUE(inNetns(a, "ping -c 2 -W 2 " + ip).ok());
      auto big = inNetns(a, "ping -c 2 -W 2 -M do -s " + std::to_string(df_payload) + " " + ip);
      EXPECT_TRUE(big.ok()) << big.describe();
      EXPECT_EQ(trim(httpGet(a, "http://" + ip + ":8080/")), peer);
      auto udp = inNetns(a, "echo hi | socat -t 2 - UDP:" + ip + ":9001");
      EXPECT_EQ(trim(udp.out), std::string(peer) + " hi") << udp.describe();
    }
  }
  // Pod traffic arriving at node-2 for pod b goes straight into the pod from the uplink's program
  // (decapsulated in tunnel mode: bpf/lib/overlay_decap.h) with bpf_redirect_peer, so neither b's
  // host-side veth (the node stack's way in) sends any of it nor does the VXLAN device receive
  // it. In tunnel mode (`tunnel`) no node forwards pod traffic at all: lxc sends it to the
  // overlay device; in native mode the sending node's stack forwards it.
  static void expectPodTrafficGoesStraightIntoB(Sandbox& sb, bool tunnel) {
    const std::string node2 = sb.prefix() + "-node-2";
    const std::string b_ip = sb.pods()["b"]["status"]["podIP"];
    auto route = inNetns(node2, "ip -o route get " + b_ip);
    const auto dev_at = route.out.find(" dev ");
    ASSERT_NE(dev_at, std::string::npos) << route.describe();
    const std::string host_veth =
        route.out.substr(dev_at + 5, route.out.find(' ', dev_at + 5) - dev_at - 5);
    auto packets = [&](const std::string& dev, const char* dir) -> uint64_t {
      auto r = inNetns(node2, "ip -j -s link show dev " + dev);
      EXPECT_TRUE(r.ok()) << r.describe();
      auto link = json::parse(r.out, nullptr, false);
      return link.is_array() && !link.empty() ? link[0]["stats64"][dir]["packets"].get<uint64_t>()
                                              : uint64_t{0};
    };
    auto forwardedByTheStack = [&](int node) -> uint64_t {  // /proc/net/snmp: Ip: ForwDatagrams
      auto r = inNetns(sb.prefix() + "-node-" + std::to_string(node),
                       "awk '/^Ip:/ { if (!n++) { for (i = 1; i <= NF; i++) "
                       "if ($i == \"ForwDatagrams\") c = i } else print $c }' /proc/net/snmp");
      EXPECT_TRUE(r.ok() && !trim(r.out).empty()) << r.describe();
      return r.ok() && !trim(r.out).empty() ? std::stoull(trim(r.out)) : 0;
    };
    const uint64_t stack1_before = forwardedByTheStack(1);
    const uint64_t stack2_before = forwardedByTheStack(2);
    const uint64_t veth_before = packets(host_veth, "tx");
    const uint64_t device_before = tunnel ? packets("petrel_vxlan", "rx") : 0;
    const uint64_t forwarded_before = sb.datapathCount(2, "forwarded");
    auto ping = inNetns(sb.podNetns()["a"], "ping -c 20 -i 0.02 -W 2 " + b_ip);
    EXPECT_TRUE(ping.ok()) << ping.describe();
    EXPECT_EQ(trim(httpGet(sb.podNetns()["a"], "http://" + b_ip + ":8080/")), "b");
    EXPECT_GE(sb.datapathCount(2, "forwarded") - forwarded_before, 20u);
    EXPECT_LE(packets(host_veth, "tx") - veth_before, 2u) << "pod traffic went through the stack";
    if (tunnel) {
      EXPECT_LE(forwardedByTheStack(1) - stack1_before, 2u) << "node-1 forwarded pod traffic";
      EXPECT_LE(forwardedByTheStack(2) - stack2_before, 2u) << "node-2 forwarded pod traffic";
    }
    if (tunnel) {
      EXPECT_LE(packets("petrel_vxlan", "rx") - device_before, 2u)
          << "pod traffic went through petrel_vxlan";
    }
  }
};

TEST_F(Overlay, PodsTalkAcrossThreeNodes) {
  Sandbox sb;
  ASSERT_TRUE(upWithThreePods(sb));
  // 1400 bytes on the wire with don't-fragment: the pod MTU leaves room for the VXLAN header.
  expectATalksToBAndC(sb, 1372);
  expectPodTrafficGoesStraightIntoB(sb, true);
  auto pods = sb.pods();
  const std::string a = sb.podNetns()["a"];
  // `petrel bpf tunnel list` on node-1: the two other nodes' pod CIDRs, read from the pinned map.
  auto tunnels = run({(binDir() / "petrel").string(), "bpf", "tunnel", "list", "-o", "json",
                      "--bpf-root", sb.bpfRoot(1)});
  ASSERT_TRUE(tunnels.ok()) << tunnels.describe();
  auto entries = json::parse(tunnels.out);
  ASSERT_EQ(entries.size(), 2u) << tunnels.out;
  EXPECT_EQ(entries[0]["podCIDR"], sb.podCidrPrefix(2) + "0/24");
  EXPECT_EQ(entries[1]["podCIDR"], sb.podCidrPrefix(3) + "0/24");
  auto mtu = inNetns(a, "cat /sys/class/net/eth0/mtu; ip -o link show eth0");
  EXPECT_NE(mtu.out.find("mtu 1450"), std::string::npos) << mtu.out;
  // The default overlay device: collect_md, with the group policy extension the XDP NodePort
  // path's packets use.
  auto device = inNetns(sb.prefix() + "-node-1", "ip -d link show petrel_vxlan");
  EXPECT_NE(device.out.find(" external "), std::string::npos) << device.out;
  EXPECT_NE(device.out.find(" gbp"), std::string::npos) << device.out;
  // The node's own traffic to a remote pod, and a pod to a remote node.
  const std::string b_ip = pods["b"]["status"]["podIP"];
  EXPECT_EQ(trim(httpGet(sb.prefix() + "-node-3", "http://" + b_ip + ":8080/")), "b");
  auto node2 = json::parse(sb.kubectl({"get", "node", "node-2", "-o", "json"}).out);
  const std::string node2_ip = node2["status"]["addresses"][0]["address"];
  EXPECT_TRUE(inNetns(a, "ping -c 1 -W 2 " + node2_ip).ok()) << node2_ip;
}

// --vxlan-mode collect-md (the default, given here all the same): an external VXLAN device whose
// packets get their remote node and VNI from the egress program; the VNI on the wire is the
// source pod's identity.
TEST_F(Overlay, CollectMdDeviceCarriesTheSourceIdentityInTheVni) {
  ASSERT_TRUE(requireTool("tcpdump"));
  Sandbox sb;
  ASSERT_TRUE(upWithThreePods(sb, {"--vxlan-mode", "collect-md"}));
  expectATalksToBAndC(sb, 1372);
  expectPodTrafficGoesStraightIntoB(sb, true);
  auto pods = sb.pods();
  const std::string a = sb.podNetns()["a"];
  const std::string node1 = sb.prefix() + "-node-1";
  const std::string b_ip = pods["b"]["status"]["podIP"];
  EXPECT_EQ(trim(httpGet(sb.prefix() + "-node-3", "http://" + b_ip + ":8080/")), "b");
  auto device = inNetns(node1, "ip -d link show petrel_vxlan");
  EXPECT_NE(device.out.find(" external "), std::string::npos) << device.out;
  EXPECT_NE(device.out.find(" gbp"), std::string::npos) << device.out;
  // No forwarding entries: the program names the remote node.
  auto fdb = inNetns(node1, "bridge fdb show dev petrel_vxlan");
  EXPECT_EQ(fdb.out.find(" dst "), std::string::npos) << fdb.out;

  // On the underlay: the VNI is the source's identity: pod a's (from the endpoint map; pods
  // share identity 0 until policy allocates them), and the host identity for node-1's own.
  auto endpoints = run({(binDir() / "petrel").string(), "bpf", "endpoint", "list", "-o", "json",
                        "--bpf-root", sb.bpfRoot(1)});
  ASSERT_TRUE(endpoints.ok()) << endpoints.describe();
  std::optional<uint32_t> a_identity;
  for (const auto& e : json::parse(endpoints.out)) {
    if (e["ip"] == pods["a"]["status"]["podIP"]) a_identity = e["identity"].get<uint32_t>();
  }
  ASSERT_TRUE(a_identity) << endpoints.out;
  // tcpdump says "listening on" once its capture and filter are in place: the pings start then.
  auto vniOfPingFrom = [&](const std::string& netns) -> int64_t {
    BackgroundProcess capture({"nsenter", "--net=/run/netns/" + sb.underlayNetns(), "timeout", "15",
                               "tcpdump", "-l", "-n", "--immediate-mode", "-i", "br0", "-c", "1",
                               "-T", "vxlan", "udp dst port 8472 and src host " + sb.nodeIp(1)},
                              sb.stateDir() + "/tcpdump-" + netns + ".log");
    const bool listening = waitUntil(
        [&] {
          return capture.log().find("listening on") != std::string::npos || !capture.running();
        },
        10s, 20ms);
    EXPECT_TRUE(listening && capture.running()) << "tcpdump: " << capture.log();
    auto ping = inNetns(netns, "ping -c 3 -i 0.2 -W 2 " + b_ip);
    EXPECT_TRUE(ping.ok()) << ping.describe();
    EXPECT_TRUE(capture.wait(10s).has_value()) << "tcpdump saw no packet: " << capture.log();
    const std::string out = capture.log();
    auto at = out.find(", vni ");
    EXPECT_NE(at, std::string::npos) << out;
    return at == std::string::npos ? -1 : std::stoll(out.substr(at + 6));
  };
  EXPECT_EQ(vniOfPingFrom(a), int64_t{*a_identity & 0xffffff});
  EXPECT_EQ(vniOfPingFrom(node1), int64_t{PETREL_IDENTITY_HOST});
}

// Native routing: no VXLAN device; each node routes the other's pod CIDR via its address, and
// pods keep the full underlay MTU.
TEST_F(Overlay, NativeRoutingPodsTalkAcrossNodesWithoutEncapsulation) {
  Sandbox sb;
  ASSERT_TRUE(upWithThreePods(sb, {"--routing-mode", "native"}));
  expectATalksToBAndC(sb, 1472);  // the full 1500 MTU
  expectPodTrafficGoesStraightIntoB(sb, false);
  auto pods = sb.pods();
  const std::string a = sb.podNetns()["a"];
  const std::string b_ip = pods["b"]["status"]["podIP"];
  const std::string node1 = sb.prefix() + "-node-1";
  EXPECT_EQ(trim(httpGet(node1, "http://" + b_ip + ":8080/")), "b");
  EXPECT_TRUE(inNetns(a, "ping -c 1 -W 2 " + sb.nodeIp(3)).ok());  // pod to a remote node
  auto routes = inNetns(node1, "ip route; ip link show petrel_vxlan 2>&1 || true");
  EXPECT_NE(routes.out.find(sb.podCidrPrefix(2) + "0/24 via "), std::string::npos) << routes.out;
  EXPECT_NE(routes.out.find(sb.podCidrPrefix(3) + "0/24 via "), std::string::npos) << routes.out;
  EXPECT_NE(routes.out.find("does not exist"), std::string::npos) << routes.out;
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// With either overlay device; the classic one (--vxlan-mode classic) also has a forwarding entry
// per remote node.
class OverlayNodeRemoval : public Overlay, public ::testing::WithParamInterface<std::string> {};

TEST_P(OverlayNodeRemoval, NodeRemovedFromTheApiLosesItsTunnelUntilAddedBack) {
  const bool classic = GetParam() == "classic";
  Sandbox sb;
  ASSERT_TRUE(sb.up(2, {"--vxlan-mode", GetParam()}));
  ASSERT_TRUE(sb.apply(workloadPodOn("a", "node-1") + workloadPodOn("b", "node-2")));
  ASSERT_TRUE(sb.waitReady({"a", "b"}));
  const std::string a = sb.podNetns()["a"];
  const std::string b_ip = sb.pods()["b"]["status"]["podIP"];
  ASSERT_EQ(trim(httpGet(a, "http://" + b_ip + ":8080/")), "b");
  const std::string node1 = sb.prefix() + "-node-1";
  const std::string cidr2 = sb.podCidrPrefix(2) + "0/24";
  auto routes = [&] { return inNetns(node1, "ip route").out; };
  ASSERT_NE(routes().find(cidr2), std::string::npos) << routes();
  auto tunnels = [&] {
    return run({(binDir() / "petrel").string(), "bpf", "tunnel", "list", "-o", "json", "--bpf-root",
                sb.bpfRoot(1)})
        .out;
  };
  ASSERT_NE(tunnels().find("\"" + cidr2 + "\""), std::string::npos) << tunnels();
  // A classic device forwards node-2's VTEP MAC (02:50 and its address) to node-2.
  auto node2_ip = json::parse(sb.kubectl({"get", "node", "node-2", "-o", "json"})
                                  .out)["status"]["addresses"][0]["address"]
                      .get<std::string>();
  auto fdb = [&] { return inNetns(node1, "bridge fdb show dev petrel_vxlan").out; };
  if (classic) {
    ASSERT_NE(fdb().find("dst " + node2_ip + " self permanent"), std::string::npos) << fdb();
  }

  auto saved_node = sb.kubectl({"get", "node", "node-2", "-o", "yaml"});
  auto saved_petrel_node = sb.kubectl({"get", "petrelnode", "node-2", "-o", "yaml"});
  ASSERT_TRUE(saved_node.ok()) << saved_node.describe();
  ASSERT_TRUE(saved_petrel_node.ok()) << saved_petrel_node.describe();
  // The README: "A node deleted from the API loses its route within a second" (petrel-operator
  // deletes the PetrelNode of a Node that is gone; the route follows). The Node goes with one
  // DELETE request (curl, so no kubectl start-up is counted), and the clock runs from just before
  // that request to the end of the first `ip route` that no longer shows the route.
  const std::string pki = sb.stateDir() + "/pki";
  const json kubeconfig = json::parse(readText(sb.kubeconfig()), nullptr, false);
  ASSERT_TRUE(kubeconfig.is_object()) << readText(sb.kubeconfig());
  const std::string server = kubeconfig["clusters"][0]["cluster"]["server"];
  const auto deleted_at = std::chrono::steady_clock::now();
  auto del = run({"curl", "-sS", "-m", "5", "--cacert", pki + "/ca.crt", "--cert",
                  pki + "/admin.crt", "--key", pki + "/admin.key", "-X", "DELETE", "-o",
                  "/dev/null", "-w", "%{http_code}", server + "/api/v1/nodes/node-2"});
  ASSERT_TRUE(del.ok() && del.out == "200") << del.describe();
  std::chrono::steady_clock::duration took{};
  const bool gone = waitUntil(
      [&] {
        const bool no_route = routes().find(cidr2) == std::string::npos;
        took = std::chrono::steady_clock::now() - deleted_at;
        return no_route;
      },
      10s, 10ms);
  ASSERT_TRUE(gone) << "the route to node-2's pods stayed: " << routes();
  EXPECT_LE(took, 1s) << "the route went " << std::chrono::duration_cast<Millis>(took).count()
                      << " ms after the Node's deletion; the README says within a second";
  // The tunnel entry and the forwarding entry go in the same pass as the route, just after it.
  bool tunnel_gone = false;
  for (int i = 0; i < 20 && !tunnel_gone; ++i, std::this_thread::sleep_for(50ms)) {
    tunnel_gone = tunnels().find("\"" + cidr2 + "\"") == std::string::npos &&
                  fdb().find("dst " + node2_ip + " ") == std::string::npos;
  }
  EXPECT_TRUE(tunnel_gone) << tunnels() << fdb();
  EXPECT_FALSE(sb.kubectl({"get", "petrelnode", "node-2"}).ok());
  EXPECT_EQ(trim(httpGet(a, "http://" + b_ip + ":8080/")), "");

  // Back: the Node, then its PetrelNode with the CIDR its pods still use (the operator adopts a
  // free CIDR from its pool as it is).
  auto strip = [](std::string yaml) {
    for (const char* field : {"resourceVersion", "uid", "creationTimestamp"}) {
      auto at = yaml.find(std::string("  ") + field + ":");
      if (at != std::string::npos) yaml.erase(at, yaml.find('\n', at) - at + 1);
    }
    return yaml;
  };
  ASSERT_TRUE(sb.apply(strip(saved_node.out) + "---\n" + strip(saved_petrel_node.out)));
  std::string answer;
  for (int i = 0; i < 50 && answer != "b"; ++i, std::this_thread::sleep_for(100ms)) {
    answer = trim(httpGet(a, "http://" + b_ip + ":8080/"));
  }
  EXPECT_EQ(answer, "b") << routes();
  EXPECT_NE(tunnels().find("\"" + cidr2 + "\""), std::string::npos) << tunnels();
  if (classic) {
    EXPECT_NE(fdb().find("dst " + node2_ip + " self permanent"), std::string::npos) << fdb();
  }
}

INSTANTIATE_TEST_SUITE_P(VxlanModes, OverlayNodeRemoval, ::testing::Values("collect-md", "classic"),
                         [](const auto& info) {
                           return info.param == "collect-md" ? "collect_md" : info.param;
                         });

}  // namespace
}  // namespace petrel::e2e
