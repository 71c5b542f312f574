// Unit tests for the NetworkPolicy model: peers (absent against empty selectors, ipBlock with
// except), ports (named, ranges), policyTypes defaulting, rule order, and every invalid policy
// rejected with a message naming the policy and the field.
#include "k8s/network_policy.h"

#include <functional>

#include <gtest/gtest.h>

namespace petrel::k8s {
namespace {

using nlohmann::json;

json policyWith(const std::string& spec) {
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "NetworkPolicy"},
          {"metadata", {{"name", "db"}, {"namespace", "shop"}}},
          {"spec", json::parse(spec)}};
}

NetworkPolicy decoded(const std::string& spec) {
  auto np = decodeNetworkPolicy(policyWith(spec));
  EXPECT_TRUE(np) << np.status().message();
  return np ? *np : NetworkPolicy{};
}

TEST(NetworkPolicyTest, DecodesPeersPortsAndSelectors) {
  auto np = decoded(R"({
    "podSelector": {"matchLabels": {"app": "db"}},
    "policyTypes": ["Ingress"],
    "ingress": [{
      "from": [{"podSelector": {"matchLabels": {"app": "web"}}},
               {"namespaceSelector": {"matchLabels": {"team": "ops"}}},
               {"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "backup"}}},
               {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}}],
      "ports": [{"port": 5432}, {"protocol": "UDP", "port": "dns"},
                {"protocol": "SCTP", "port": 9000, "endPort": 9100}]}]})");
  EXPECT_EQ(np.meta.key(), "shop/db");
  EXPECT_EQ(np.pod_selector.str(), "app=db");
  EXPECT_TRUE(np.policy_types.ingress);
  EXPECT_FALSE(np.policy_types.egress);
  ASSERT_EQ(np.ingress.size(), 1u);
  const auto& rule = np.ingress[0];
  ASSERT_EQ(rule.peers.size(), 4u);
  EXPECT_EQ(rule.peers[0].pod_selector->str(), "app=web");
  EXPECT_FALSE(rule.peers[0].namespace_selector.has_value());
  EXPECT_FALSE(rule.peers[1].pod_selector.has_value());
  EXPECT_EQ(rule.peers[1].namespace_selector->str(), "team=ops");
  EXPECT_TRUE(rule.peers[2].namespace_selector->empty());
  EXPECT_EQ(rule.peers[2].pod_selector->str(), "role=backup");
  ASSERT_TRUE(rule.peers[3].ip_block.has_value());
  EXPECT_EQ(rule.peers[3].ip_block->cidr.toString(), "192.168.0.0/16");
  ASSERT_EQ(rule.peers[3].ip_block->except.size(), 1u);
  EXPECT_EQ(rule.peers[3].ip_block->except[0].toString(), "192.168.1.0/24");
  EXPECT_FALSE(rule.peers[3].pod_selector || rule.peers[3].namespace_selector);

  ASSERT_EQ(rule.ports.size(), 3u);
  EXPECT_EQ(rule.ports[0].protocol, L4Protocol::kTcp);  // the default
  EXPECT_EQ(rule.ports[0].port, 5432);
  EXPECT_EQ(rule.ports[0].end_port, 0);
  EXPECT_EQ(rule.ports[1].protocol, L4Protocol::kUdp);
  EXPECT_EQ(rule.ports[1].port, 0);
  EXPECT_EQ(rule.ports[1].port_name, "dns");
  EXPECT_EQ(rule.ports[2].protocol, L4Protocol::kSctp);
  EXPECT_EQ(rule.ports[2].port, 9000);
  EXPECT_EQ(rule.ports[2].end_port, 9100);
  EXPECT_STREQ(l4ProtocolName(rule.ports[2].protocol), "SCTP");
}

// Empty selectors select everything, absent ones nothing: {podSelector: {}} is every pod of the
// policy's namespace, {namespaceSelector: {}} every pod of the cluster.
TEST(NetworkPolicyTest, KeepsAbsentAndEmptySelectorsApart) {
  auto np = decoded(R"({"podSelector": {},
                        "egress": [{"to": [{"podSelector": {}}, {"namespaceSelector": {}}]}]})");
  EXPECT_TRUE(np.pod_selector.empty());
  const auto& peers = np.egress[0].peers;
  ASSERT_EQ(peers.size(), 2u);
  ASSERT_TRUE(peers[0].pod_selector.has_value());
  EXPECT_TRUE(peers[0].pod_selector->empty());
  EXPECT_FALSE(peers[0].namespace_selector.has_value());
  EXPECT_FALSE(peers[1].pod_selector.has_value());
  ASSERT_TRUE(peers[1].namespace_selector.has_value());
  EXPECT_TRUE(peers[1].namespace_selector->empty());
}

TEST(NetworkPolicyTest, AnAbsentPodSelectorIsTheEmptyOne) {
  auto np = decoded(R"({"ingress": [{}]})");
  EXPECT_TRUE(np.pod_selector.empty());
}

TEST(NetworkPolicyTest, PolicyTypesDefaultAsTheApiServerDoes) {
  auto ingress_only = decoded(R"({"podSelector": {}})");
  EXPECT_TRUE(ingress_only.policy_types.ingress);
  EXPECT_FALSE(ingress_only.policy_types.egress);

  auto with_egress = decoded(R"({"podSelector": {}, "egress": [{"to": [{"podSelector": {}}]}]})");
  EXPECT_TRUE(with_egress.policy_types.ingress);
  EXPECT_TRUE(with_egress.policy_types.egress);

  auto empty_egress = decoded(R"({"podSelector": {}, "egress": []})");
  EXPECT_TRUE(empty_egress.policy_types.ingress);
  EXPECT_FALSE(empty_egress.policy_types.egress);

  auto empty_list = decoded(R"({"policyTypes": [], "egress": [{}]})");
  EXPECT_TRUE(empty_list.policy_types.ingress);
  EXPECT_TRUE(empty_list.policy_types.egress);

  // Written types are kept as written: an egress-only policy with ingress rules isolates no
  // ingress.
  auto egress_only = decoded(R"({"policyTypes": ["Egress"], "ingress": [{}]})");
  EXPECT_FALSE(egress_only.policy_types.ingress);
  EXPECT_TRUE(egress_only.policy_types.egress);
  EXPECT_EQ(egress_only.ingress.size(), 1u);

  auto both = decoded(R"({"policyTypes": ["Egress", "Ingress"]})");
  EXPECT_TRUE(both.policy_types.ingress);
  EXPECT_TRUE(both.policy_types.egress);
}

// A rule with no peers allows every source; one with no ports every port. Absent and empty lists
// mean the same; no rules at all (absent or []) allow nothing.
TEST(NetworkPolicyTest, AbsentAndEmptyPeersAndPortsMatchAll) {
  auto np = decoded(R"({"ingress": [{}, {"from": [], "ports": []}, {"ports": [{"port": 80}]}]})");
  ASSERT_EQ(np.ingress.size(), 3u);
  EXPECT_TRUE(np.ingress[0].peers.empty());
  EXPECT_TRUE(np.ingress[0].ports.empty());
  EXPECT_TRUE(np.ingress[1].peers.empty());
  EXPECT_TRUE(np.ingress[1].ports.empty());
  EXPECT_TRUE(np.ingress[2].peers.empty());
  EXPECT_EQ(np.ingress[2].ports.size(), 1u);
  EXPECT_TRUE(decoded(R"({"ingress": []})").ingress.empty());
}

TEST(NetworkPolicyTest, KeepsRuleOrder) {
  auto np = decoded(R"({"egress": [{"ports": [{"port": 1}]}, {"ports": [{"port": 2}]},
                                   {"ports": [{"port": 3}]}]})");
  ASSERT_EQ(np.egress.size(), 3u);
  for (uint16_t i = 0; i < 3; ++i) EXPECT_EQ(np.egress[i].ports[0].port, i + 1);
}

TEST(NetworkPolicyTest, IpBlockHostBitsAreClearedAndIpv6IsFlagged) {
  auto np = decoded(R"({"ingress": [{"from": [
      {"ipBlock": {"cidr": "10.1.2.3/8", "except": ["10.1.2.3/32", "10.2.0.0/16"]}},
      {"ipBlock": {"cidr": "fd00::/8", "except": ["fd00:1::/32"]}},
      {"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})");
  const auto& peers = np.ingress[0].peers;
  EXPECT_FALSE(peers[0].ip_block->ipv6);
  EXPECT_EQ(peers[0].ip_block->cidr.toString(), "10.0.0.0/8");
  EXPECT_EQ(peers[0].ip_block->cidr_text, "10.1.2.3/8");
  EXPECT_EQ(peers[0].ip_block->except.size(), 2u);
  EXPECT_TRUE(peers[1].ip_block->ipv6);
  EXPECT_EQ(peers[1].ip_block->cidr_text, "fd00::/8");
  EXPECT_TRUE(peers[1].ip_block->except.empty());
  EXPECT_EQ(peers[2].ip_block->cidr.prefix_len, 0);
}

TEST(NetworkPolicyTest, EndPortMayEqualPort) {
  auto np = decoded(R"({"ingress": [{"ports": [{"port": 80, "endPort": 80},
                                              {"port": 1, "endPort": 65535}]}]})");
  EXPECT_EQ(np.ingress[0].ports[0].end_port, 80);
  EXPECT_EQ(np.ingress[0].ports[1].end_port, 65535);
}

TEST(NetworkPolicyTest, NamedPortsAreServiceNames) {
  EXPECT_TRUE(isServiceName("http"));
  EXPECT_TRUE(isServiceName("h2c-8080"));
  EXPECT_TRUE(isServiceName("a"));
  EXPECT_TRUE(isServiceName(std::string(15, 'x')));
  EXPECT_FALSE(isServiceName(std::string(16, 'x')));
  EXPECT_FALSE(isServiceName(""));
  EXPECT_FALSE(isServiceName("8080"));
  EXPECT_FALSE(isServiceName("HTTP"));
  EXPECT_FALSE(isServiceName("-http"));
  EXPECT_FALSE(isServiceName("http-"));
  EXPECT_FALSE(isServiceName("h--p"));
  EXPECT_FALSE(isServiceName("http_alt"));
  auto np = decoded(R"({"ingress": [{"ports": [{"port": "metrics"}]}]})");
  EXPECT_EQ(np.ingress[0].ports[0].port_name, "metrics");
  EXPECT_EQ(np.ingress[0].ports[0].protocol, L4Protocol::kTcp);
}

TEST(NetworkPolicyTest, UnknownFieldsAreIgnored) {
  auto np = decoded(R"({"podSelector": {}, "futureField": {"x": 1},
                        "ingress": [{"from": [{"podSelector": {}, "futurePeerField": 1}]}]})");
  EXPECT_EQ(np.ingress[0].peers.size(), 1u);
}

struct InvalidPolicy {
  std::string name;
  std::function<void(json&)> mutate;
  std::string field;  // the path the message must name
};

class NetworkPolicyInvalidTest : public testing::TestWithParam<InvalidPolicy> {};

TEST_P(NetworkPolicyInvalidTest, IsRejectedNamingTheField) {
  json obj = policyWith(R"({"podSelector": {}})");
  GetParam().mutate(obj);
  auto np = decodeNetworkPolicy(obj);
  ASSERT_FALSE(np) << obj.dump();
  EXPECT_EQ(np.status().code(), Code::kInvalidArgument);
  const std::string& message = np.status().message();
  EXPECT_NE(message.find("NetworkPolicy shop/db: " + GetParam().field + ":"), std::string::npos)
      << message;
}

// A mutation that sets spec.<key> to the JSON `value`.
std::function<void(json&)> setSpec(const std::string& key, const std::string& value) {
  return [=](json& obj) { obj["spec"][key] = json::parse(value); };
}
// One ingress rule whose from has the single peer `peer`.
std::function<void(json&)> ingressPeer(const std::string& peer) {
  return setSpec("ingress", R"([{"from": [)" + peer + "]}]");
}
// One ingress rule whose ports have the single entry `port`.
std::function<void(json&)> ingressPort(const std::string& port) {
  return setSpec("ingress", R"([{"ports": [)" + port + "]}]");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NetworkPolicyInvalidTest,
    testing::ValuesIn(std::vector<InvalidPolicy>{
        {"SpecMissing", [](json& obj) { obj.erase("spec"); }, "spec"},
        {"SpecNotAnObject", [](json& obj) { obj["spec"] = 5; }, "spec"},
        {"UnknownPolicyType", setSpec("policyTypes", R"(["Ingress", "Sideways"])"),
         "spec.policyTypes[1]"},
        {"ThreePolicyTypes", setSpec("policyTypes", R"(["Ingress", "Egress", "Ingress"])"),
         "spec.policyTypes"},
        {"PolicyTypesNotStrings", setSpec("policyTypes", "[1]"), "spec.policyTypes"},
        {"BadPodSelector",
         setSpec("podSelector", R"({"matchExpressions": [{"key": "a", "operator": "Near"}]})"),
         "spec.podSelector.matchExpressions[0].operator"},
        {"IngressNotAList", setSpec("ingress", "{}"), "spec.ingress"},
        {"RuleNotAnObject", setSpec("egress", "[[]]"), "spec.egress[0]"},
        {"FromNotAList", setSpec("ingress", R"([{"from": {}}])"), "spec.ingress[0].from"},
        {"EmptyPeer", ingressPeer("{}"), "spec.ingress[0].from[0]"},
        {"PeerNotAnObject", ingressPeer("5"), "spec.ingress[0].from[0]"},
        {"IpBlockWithPodSelector",
         ingressPeer(R"({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}})"),
         "spec.ingress[0].from[0]"},
        {"IpBlockWithNamespaceSelector", setSpec("egress", R"([{"to": [{"podSelector": {}},
                  {"ipBlock": {"cidr": "10.0.0.0/8"}, "namespaceSelector": {}}]}])"),
         "spec.egress[0].to[1]"},
        {"BadPeerNamespaceSelector",
         ingressPeer(R"({"namespaceSelector": {"matchExpressions": [{"key": "a",
                                                                     "operator": "In"}]}})"),
         "spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values"},
        {"IpBlockNotAnObject", ingressPeer(R"({"ipBlock": "10.0.0.0/8"})"),
         "spec.ingress[0].from[0].ipBlock"},
        {"IpBlockWithoutCidr", ingressPeer(R"({"ipBlock": {"except": ["10.0.0.0/9"]}})"),
         "spec.ingress[0].from[0].ipBlock.cidr"},
        {"IpBlockBadCidr", ingressPeer(R"({"ipBlock": {"cidr": "10.0.0.0/33"}})"),
         "spec.ingress[0].from[0].ipBlock.cidr"},
        {"IpBlockAddressNotCidr", ingressPeer(R"({"ipBlock": {"cidr": "10.0.0.1"}})"),
         "spec.ingress[0].from[0].ipBlock.cidr"},
        {"ExceptOutsideCidr",
         ingressPeer(R"({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}})"),
         "spec.ingress[0].from[0].ipBlock.except[0]"},
        {"ExceptEqualToCidr",
         ingressPeer(R"({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}})"),
         "spec.ingress[0].from[0].ipBlock.except[0]"},
        {"ExceptWiderThanCidr",
         ingressPeer(
             R"({"ipBlock": {"cidr": "10.1.0.0/16", "except": ["10.1.1.0/24", "10.0.0.0/8"]}})"),
         "spec.ingress[0].from[0].ipBlock.except[1]"},
        {"ExceptOfTheOtherFamily",
         ingressPeer(R"({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["fd00::/16"]}})"),
         "spec.ingress[0].from[0].ipBlock.except[0]"},
        {"Ipv6ExceptOutsideCidr",
         ingressPeer(R"({"ipBlock": {"cidr": "fd00::/16", "except": ["fd01::/32"]}})"),
         "spec.ingress[0].from[0].ipBlock.except[0]"},
        {"ExceptNotCidr",
         ingressPeer(R"({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0"]}})"),
         "spec.ingress[0].from[0].ipBlock.except[0]"},
        {"PortZero", ingressPort(R"({"port": 0})"), "spec.ingress[0].ports[0].port"},
        {"PortTooLarge", ingressPort(R"({"port": 65536})"), "spec.ingress[0].ports[0].port"},
        {"PortNotANumberOrName", ingressPort(R"({"port": true})"), "spec.ingress[0].ports[0].port"},
        {"PortNameUppercase", ingressPort(R"({"port": "HTTP"})"), "spec.ingress[0].ports[0].port"},
        {"PortNameWithoutLetter", ingressPort(R"({"port": "8080"})"),
         "spec.ingress[0].ports[0].port"},
        {"PortNameTooLong", ingressPort(R"({"port": "a-very-long-name"})"),
         "spec.ingress[0].ports[0].port"},
        {"UnknownProtocol", ingressPort(R"({"protocol": "ICMP", "port": 1})"),
         "spec.ingress[0].ports[0].protocol"},
        {"EndPortBelowPort", ingressPort(R"({"port": 90, "endPort": 80})"),
         "spec.ingress[0].ports[0].endPort"},
        {"EndPortTooLarge", ingressPort(R"({"port": 90, "endPort": 65536})"),
         "spec.ingress[0].ports[0].endPort"},
        {"EndPortWithNamedPort", ingressPort(R"({"port": "http", "endPort": 90})"),
         "spec.ingress[0].ports[0].endPort"},
        {"EndPortWithoutPort", ingressPort(R"({"endPort": 90})"),
         "spec.ingress[0].ports[0].endPort"},
        {"PortEntryNotAnObject", ingressPort("80"), "spec.ingress[0].ports[0]"},
        {"EgressPortInSecondRule",
         setSpec("egress", R"([{}, {"ports": [{"port": 53}, {"port": -1}]}])"),
         "spec.egress[1].ports[1].port"},
    }),
    [](const testing::TestParamInfo<InvalidPolicy>& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace petrel::k8s
