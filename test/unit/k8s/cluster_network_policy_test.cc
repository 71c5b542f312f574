// Unit tests for the ClusterNetworkPolicy model (network-policy-api v0.3.1, v1beta1): admin and
// baseline policies as the upstream examples write them, every peer and protocol form, and each
// limit of the CRD rejected with a message naming the policy and the field.
#include "k8s/cluster_network_policy.h"

#include <functional>

#include <gtest/gtest.h>

namespace petrel::k8s {
namespace {

using nlohmann::json;
using Kind = ClusterNetworkPolicyPeer::Kind;

json clusterPolicyWith(const std::string& spec) {
  return {{"apiVersion", "policy.networking.k8s.io/v1beta1"},
          {"kind", "ClusterNetworkPolicy"},
          {"metadata", {{"name", "guard"}}},
          {"spec", json::parse(spec)}};
}

ClusterNetworkPolicy decoded(const std::string& spec) {
  auto cnp = decodeClusterNetworkPolicy(clusterPolicyWith(spec));
  EXPECT_TRUE(cnp) << cnp.status().message();
  return cnp ? *cnp : ClusterNetworkPolicy{};
}

TEST(ClusterNetworkPolicyTest, AdminDenyWithPassKeepsRuleOrder) {
  auto cnp = decoded(R"({
    "tier": "Admin", "priority": 10,
    "subject": {"pods": {"namespaceSelector": {"matchLabels": {"env": "prod"}},
                         "podSelector": {"matchLabels": {"app": "db"}}}},
    "ingress": [
      {"name": "let-ops-decide", "action": "Pass",
       "from": [{"namespaces": {"matchLabels": {"team": "ops"}}}]},
      {"name": "deny-the-rest", "action": "Deny", "from": [{"namespaces": {}}],
       "protocols": [{"tcp": {"destinationPort": {"number": 5432}}}]}]})");
  EXPECT_EQ(cnp.meta.key(), "guard");
  EXPECT_EQ(cnp.tier, PolicyTier::kAdmin);
  EXPECT_EQ(cnp.priority, 10);
  EXPECT_FALSE(cnp.subject.by_namespace_only);
  EXPECT_EQ(cnp.subject.namespace_selector.str(), "env=prod");
  EXPECT_EQ(cnp.subject.pod_selector.str(), "app=db");
  EXPECT_TRUE(cnp.subject.matches({{"env", "prod"}}, {{"app", "db"}}));
  EXPECT_FALSE(cnp.subject.matches({{"env", "dev"}}, {{"app", "db"}}));
  EXPECT_TRUE(cnp.egress.empty());
  ASSERT_EQ(cnp.ingress.size(), 2u);
  EXPECT_EQ(cnp.ingress[0].name, "let-ops-decide");
  EXPECT_EQ(cnp.ingress[0].action, RuleAction::kPass);
  EXPECT_TRUE(cnp.ingress[0].protocols.empty());  // every protocol and port
  ASSERT_EQ(cnp.ingress[0].peers.size(), 1u);
  EXPECT_EQ(cnp.ingress[0].peers[0].kind, Kind::kPods);
  EXPECT_TRUE(cnp.ingress[0].peers[0].pods.by_namespace_only);
  EXPECT_EQ(cnp.ingress[0].peers[0].pods.namespace_selector.str(), "team=ops");
  EXPECT_TRUE(cnp.ingress[0].peers[0].pods.pod_selector.empty());
  EXPECT_EQ(cnp.ingress[1].action, RuleAction::kDeny);
  EXPECT_TRUE(cnp.ingress[1].peers[0].pods.namespace_selector.empty());
  ASSERT_EQ(cnp.ingress[1].protocols.size(), 1u);
  EXPECT_EQ(cnp.ingress[1].protocols[0].protocol, L4Protocol::kTcp);
  EXPECT_EQ(cnp.ingress[1].protocols[0].first_port, 5432);
  EXPECT_EQ(cnp.ingress[1].protocols[0].last_port, 5432);
  EXPECT_STREQ(ruleActionName(cnp.ingress[0].action), "Pass");
  EXPECT_STREQ(policyTierName(cnp.tier), "Admin");
}

TEST(ClusterNetworkPolicyTest, BaselineDefaultDenyForNamespaces) {
  auto cnp = decoded(R"({
    "tier": "Baseline", "priority": 0,
    "subject": {"namespaces": {"matchExpressions": [{"key": "kubernetes.io/metadata.name",
                                                     "operator": "NotIn",
                                                     "values": ["kube-system"]}]}},
    "egress": [{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}]})");
  EXPECT_EQ(cnp.tier, PolicyTier::kBaseline);
  EXPECT_EQ(cnp.priority, 0);
  EXPECT_TRUE(cnp.subject.by_namespace_only);
  EXPECT_TRUE(cnp.subject.pod_selector.empty());
  EXPECT_TRUE(cnp.subject.matches({{"kubernetes.io/metadata.name", "shop"}}, {{"app", "x"}}));
  EXPECT_FALSE(cnp.subject.matches({{"kubernetes.io/metadata.name", "kube-system"}}, {}));
  ASSERT_EQ(cnp.egress.size(), 1u);
  EXPECT_EQ(cnp.egress[0].action, RuleAction::kDeny);
  EXPECT_TRUE(cnp.egress[0].name.empty());
  EXPECT_EQ(cnp.egress[0].peers[0].kind, Kind::kNetworks);
  ASSERT_EQ(cnp.egress[0].peers[0].networks.size(), 1u);
  EXPECT_EQ(cnp.egress[0].peers[0].networks[0].toString(), "0.0.0.0/0");
}

TEST(ClusterNetworkPolicyTest, NetworksPeersOfBothFamilies) {
  auto cnp = decoded(R"({
    "tier": "Admin", "priority": 1000, "subject": {"namespaces": {}},
    "egress": [{"action": "Accept", "to": [
      {"networks": ["10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32", "::/0"]},
      {"pods": {"podSelector": {"matchLabels": {"app": "dns"}}}}]}]})");
  const auto& peers = cnp.egress[0].peers;
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers[0].kind, Kind::kNetworks);
  ASSERT_EQ(peers[0].networks.size(), 2u);
  EXPECT_EQ(peers[0].networks[0].toString(), "10.0.0.0/8");
  EXPECT_EQ(peers[0].networks[1].toString(), "192.168.1.7/32");
  EXPECT_EQ(peers[0].ipv6_networks, (std::vector<std::string>{"2001:db8::/32", "::/0"}));
  EXPECT_EQ(peers[1].kind, Kind::kPods);
  EXPECT_FALSE(peers[1].pods.by_namespace_only);
  EXPECT_TRUE(peers[1].pods.namespace_selector.empty());  // optional: every namespace
  EXPECT_EQ(peers[1].pods.pod_selector.str(), "app=dns");
}

TEST(ClusterNetworkPolicyTest, PortNumbersRangesAndProtocols) {
  auto cnp = decoded(R"({
    "tier": "Admin", "priority": 5, "subject": {"namespaces": {}},
    "ingress": [{"action": "Accept", "from": [{"namespaces": {}}], "protocols": [
      {"tcp": {"destinationPort": {"range": {"start": 8000, "end": 8999}}}},
      {"udp": {"destinationPort": {"number": 53}}},
      {"sctp": {"destinationPort": {"range": {"start": 1, "end": 65535}}}}]}]})");
  const auto& protocols = cnp.ingress[0].protocols;
  ASSERT_EQ(protocols.size(), 3u);
  EXPECT_EQ(protocols[0].protocol, L4Protocol::kTcp);
  EXPECT_EQ(protocols[0].first_port, 8000);
  EXPECT_EQ(protocols[0].last_port, 8999);
  EXPECT_EQ(protocols[1].protocol, L4Protocol::kUdp);
  EXPECT_EQ(protocols[1].first_port, 53);
  EXPECT_EQ(protocols[1].last_port, 53);
  EXPECT_EQ(protocols[2].protocol, L4Protocol::kSctp);
  EXPECT_EQ(protocols[2].first_port, 1);
  EXPECT_EQ(protocols[2].last_port, 65535);
  for (const auto& p : protocols) EXPECT_TRUE(p.named_port.empty());
}

// The experimental channel's fields are decoded and kept; the compiler decides what to do.
TEST(ClusterNetworkPolicyTest, ExperimentalNamedPortsNodesAndDomainNames) {
  auto cnp = decoded(R"({
    "tier": "Admin", "priority": 1, "subject": {"namespaces": {}},
    "ingress": [{"action": "Accept", "from": [{"pods": {"podSelector": {}}}],
                 "protocols": [{"destinationNamedPort": "web"}]}],
    "egress": [{"action": "Deny", "to": [{"nodes": {"matchLabels": {"role": "control-plane"}}},
                                         {"nodes": {}},
                                         {"domainNames": ["*.example.com", "kubernetes.io."]}]}]})");
  ASSERT_EQ(cnp.ingress[0].protocols.size(), 1u);
  EXPECT_EQ(cnp.ingress[0].protocols[0].named_port, "web");
  const auto& peers = cnp.egress[0].peers;
  EXPECT_EQ(peers[0].kind, Kind::kNodes);
  EXPECT_EQ(peers[0].nodes.str(), "role=control-plane");
  EXPECT_EQ(peers[1].kind, Kind::kNodes);
  EXPECT_TRUE(peers[1].nodes.empty());
  EXPECT_EQ(peers[2].kind, Kind::kDomainNames);
  EXPECT_EQ(peers[2].domain_names, (std::vector<std::string>{"*.example.com", "kubernetes.io."}));
}

// A peer with only fields this version does not know (a newer CRD's) is kept as kUnknown for the
// compiler to fail closed on; so is an egress-only field in an ingress peer.
TEST(ClusterNetworkPolicyTest, PeersOfANewerApiAreKeptAsUnknown) {
  auto cnp = decoded(R"({
    "tier": "Admin", "priority": 1, "subject": {"namespaces": {}},
    "ingress": [{"action": "Deny", "from": [{"networks": ["10.0.0.0/8"]}]}],
    "egress": [{"action": "Deny", "to": [{"serviceAccounts": {"name": "x"}}]}]})");
  EXPECT_EQ(cnp.ingress[0].peers[0].kind, Kind::kUnknown);
  EXPECT_EQ(cnp.egress[0].peers[0].kind, Kind::kUnknown);
}

TEST(ClusterNetworkPolicyTest, TwentyFiveOfEachIsTheLimit) {
  json rule = json::parse(R"({"action": "Deny", "from": [], "protocols": []})");
  for (int i = 0; i < 25; ++i) {
    rule["from"].push_back({{"namespaces", {{"matchLabels", {{"n", std::to_string(i)}}}}}});
    rule["protocols"].push_back({{"udp", {{"destinationPort", {{"number", 1000 + i}}}}}});
  }
  json obj = clusterPolicyWith(R"({"tier": "Admin", "priority": 1,
                                   "subject": {"namespaces": {}}})");
  obj["spec"]["ingress"] = json::array();
  for (int i = 0; i < 25; ++i) obj["spec"]["ingress"].push_back(rule);
  auto cnp = decodeClusterNetworkPolicy(obj);
  ASSERT_TRUE(cnp) << cnp.status().message();
  EXPECT_EQ(cnp->ingress.size(), 25u);
  EXPECT_EQ(cnp->ingress[24].peers.size(), 25u);
  EXPECT_EQ(cnp->ingress[24].protocols.size(), 25u);
}

struct InvalidClusterPolicy {
  std::string name;
  std::function<void(json&)> mutate;
  std::string field;  // the path the message must name
};

class ClusterNetworkPolicyInvalidTest : public testing::TestWithParam<InvalidClusterPolicy> {};

TEST_P(ClusterNetworkPolicyInvalidTest, IsRejectedNamingTheField) {
  json obj = clusterPolicyWith(R"({"tier": "Admin", "priority": 10,
                                   "subject": {"namespaces": {}}})");
  GetParam().mutate(obj);
  auto cnp = decodeClusterNetworkPolicy(obj);
  ASSERT_FALSE(cnp) << obj.dump();
  EXPECT_EQ(cnp.status().code(), Code::kInvalidArgument);
  const std::string& message = cnp.status().message();
  EXPECT_NE(message.find("ClusterNetworkPolicy guard: " + GetParam().field + ":"),
            std::string::npos)
      << message;
}

std::function<void(json&)> setSpec(const std::string& key, const std::string& value) {
  return [=](json& obj) { obj["spec"][key] = json::parse(value); };
}
std::function<void(json&)> eraseSpec(const std::string& key) {
  return [=](json& obj) { obj["spec"].erase(key); };
}
// One ingress rule: Deny from all namespaces, with the JSON fields `extra` added (or replaced).
std::function<void(json&)> ingressRule(const std::string& extra) {
  return [=](json& obj) {
    json rule = json::parse(R"({"action": "Deny", "from": [{"namespaces": {}}]})");
    rule.update(json::parse(extra));
    obj["spec"]["ingress"] = json::array({rule});
  };
}
// One egress rule: Deny to the single peer `peer`, with `extra` fields.
std::function<void(json&)> egressPeer(const std::string& peer, const std::string& extra = "{}") {
  return [=](json& obj) {
    json rule = {{"action", "Deny"}, {"to", json::array({json::parse(peer)})}};
    rule.update(json::parse(extra));
    obj["spec"]["egress"] = json::array({rule});
  };
}
// One ingress rule with the single protocol entry `protocol`.
std::function<void(json&)> protocol(const std::string& entry) {
  return ingressRule(R"({"protocols": [)" + entry + "]}");
}
// `count` copies of `item` as a JSON list.
std::string repeated(const std::string& item, int count) {
  std::string out = "[";
  for (int i = 0; i < count; ++i) out += (i ? "," : "") + item;
  return out + "]";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ClusterNetworkPolicyInvalidTest,
    testing::ValuesIn(std::vector<InvalidClusterPolicy>{
        {"SpecMissing", [](json& obj) { obj.erase("spec"); }, "spec"},
        {"TierMissing", eraseSpec("tier"), "spec.tier"},
        {"UnknownTier", setSpec("tier", R"("Middle")"), "spec.tier"},
        {"PriorityMissing", eraseSpec("priority"), "spec.priority"},
        {"Priority1001", setSpec("priority", "1001"), "spec.priority"},
        {"NegativePriority", setSpec("priority", "-1"), "spec.priority"},
        {"PriorityNotANumber", setSpec("priority", R"("high")"), "spec.priority"},
        {"SubjectMissing", eraseSpec("subject"), "spec.subject"},
        {"EmptySubject", setSpec("subject", "{}"), "spec.subject"},
        {"TwoSubjectFields",
         setSpec("subject", R"({"namespaces": {}, "pods": {"podSelector": {}}})"), "spec.subject"},
        {"SubjectPodsWithoutPodSelector",
         setSpec("subject", R"({"pods": {"namespaceSelector": {}}})"),
         "spec.subject.pods.podSelector"},
        {"BadSubjectSelector",
         setSpec("subject", R"({"namespaces": {"matchExpressions": [{"key": "a",
                                                                     "operator": "Exists",
                                                                     "values": ["b"]}]}})"),
         "spec.subject.namespaces.matchExpressions[0].values"},
        {"TwentySixIngressRules",
         setSpec("ingress", repeated(R"({"action": "Deny", "from": [{"namespaces": {}}]})", 26)),
         "spec.ingress"},
        {"TwentySixEgressRules",
         setSpec("egress", repeated(R"({"action": "Deny", "to": [{"namespaces": {}}]})", 26)),
         "spec.egress"},
        {"RuleNotAnObject", setSpec("ingress", "[1]"), "spec.ingress[0]"},
        {"ActionMissing", setSpec("ingress", R"([{"from": [{"namespaces": {}}]}])"),
         "spec.ingress[0].action"},
        {"UnknownAction", ingressRule(R"({"action": "Allow"})"), "spec.ingress[0].action"},
        {"NameTooLong", ingressRule(R"({"name": ")" + std::string(101, 'n') + R"("})"),
         "spec.ingress[0].name"},
        {"FromMissing", setSpec("ingress", R"([{"action": "Deny"}])"), "spec.ingress[0].from"},
        {"FromEmpty", ingressRule(R"({"from": []})"), "spec.ingress[0].from"},
        {"TwentySixPeers",
         ingressRule(R"({"from": )" + repeated(R"({"namespaces": {}})", 26) + "}"),
         "spec.ingress[0].from"},
        {"ToMissing", setSpec("egress", R"([{"action": "Deny"}])"), "spec.egress[0].to"},
        {"PeerWithTwoFields", egressPeer(R"({"namespaces": {}, "networks": ["10.0.0.0/8"]})"),
         "spec.egress[0].to[0]"},
        {"EmptyPeer", egressPeer("{}"), "spec.egress[0].to[0]"},
        {"PeerNotAnObject", egressPeer(R"("10.0.0.0/8")"), "spec.egress[0].to[0]"},
        {"PodsPeerWithoutPodSelector", egressPeer(R"({"pods": {}})"),
         "spec.egress[0].to[0].pods.podSelector"},
        {"NonCanonicalNetwork", egressPeer(R"({"networks": ["10.1.2.3/8"]})"),
         "spec.egress[0].to[0].networks[0]"},
        {"NonCanonicalIpv6Network", egressPeer(R"({"networks": ["10.0.0.0/8", "fd00::1/64"]})"),
         "spec.egress[0].to[0].networks[1]"},
        {"NetworkNotACidr", egressPeer(R"({"networks": ["10.0.0.1"]})"),
         "spec.egress[0].to[0].networks[0]"},
        {"DuplicateNetwork", egressPeer(R"({"networks": ["10.0.0.0/8", "10.0.0.0/8"]})"),
         "spec.egress[0].to[0].networks[1]"},
        {"NoNetworks", egressPeer(R"({"networks": []})"), "spec.egress[0].to[0].networks"},
        {"TwentySixNetworks",
         egressPeer(R"({"networks": )" + repeated(R"("10.0.0.0/8")", 26) + "}"),
         "spec.egress[0].to[0].networks"},
        {"BadDomainName", egressPeer(R"({"domainNames": ["localhost"]})"),
         "spec.egress[0].to[0].domainNames[0]"},
        {"WildcardInTheMiddle", egressPeer(R"({"domainNames": ["a.*.example.com"]})"),
         "spec.egress[0].to[0].domainNames[0]"},
        {"BadNodeSelector",
         egressPeer(R"({"nodes": {"matchExpressions": [{"key": "a", "operator": "Lt"}]}})"),
         "spec.egress[0].to[0].nodes.matchExpressions[0].operator"},
        {"NamedPortWithNetworks",
         egressPeer(R"({"networks": ["10.0.0.0/8"]})",
                    R"({"protocols": [{"destinationNamedPort": "http"}]})"),
         "spec.egress[0].protocols"},
        {"ProtocolsEmpty", ingressRule(R"({"protocols": []})"), "spec.ingress[0].protocols"},
        {"TwentySixProtocols",
         ingressRule(R"({"protocols": )" +
                     repeated(R"({"tcp": {"destinationPort": {"number": 80}}})", 26) + "}"),
         "spec.ingress[0].protocols"},
        {"ProtocolWithTwoFields", protocol(R"({"tcp": {"destinationPort": {"number": 80}},
                      "udp": {"destinationPort": {"number": 80}}})"),
         "spec.ingress[0].protocols[0]"},
        {"EmptyProtocol", protocol("{}"), "spec.ingress[0].protocols[0]"},
        {"TcpWithoutPort", protocol(R"({"tcp": {}})"),
         "spec.ingress[0].protocols[0].tcp.destinationPort"},
        {"UdpNotAnObject", protocol(R"({"udp": 53})"), "spec.ingress[0].protocols[0].udp"},
        {"PortWithNumberAndRange", protocol(R"({"tcp": {"destinationPort": {"number": 80,
                                                  "range": {"start": 1, "end": 2}}}})"),
         "spec.ingress[0].protocols[0].tcp.destinationPort"},
        {"PortNumberZero", protocol(R"({"sctp": {"destinationPort": {"number": 0}}})"),
         "spec.ingress[0].protocols[0].sctp.destinationPort.number"},
        {"PortNumberTooLarge", protocol(R"({"tcp": {"destinationPort": {"number": 65536}}})"),
         "spec.ingress[0].protocols[0].tcp.destinationPort.number"},
        {"RangeStartEqualsEnd",
         protocol(R"({"tcp": {"destinationPort": {"range": {"start": 80, "end": 80}}}})"),
         "spec.ingress[0].protocols[0].tcp.destinationPort.range.end"},
        {"RangeBackwards",
         protocol(R"({"udp": {"destinationPort": {"range": {"start": 90, "end": 80}}}})"),
         "spec.ingress[0].protocols[0].udp.destinationPort.range.end"},
        {"RangeWithoutEnd", protocol(R"({"tcp": {"destinationPort": {"range": {"start": 80}}}})"),
         "spec.ingress[0].protocols[0].tcp.destinationPort.range.end"},
        {"EmptyNamedPort", protocol(R"({"destinationNamedPort": ""})"),
         "spec.ingress[0].protocols[0].destinationNamedPort"},
    }),
    [](const testing::TestParamInfo<InvalidClusterPolicy>& param_info) {
      return param_info.param.name;
    });

}  // namespace
}  // namespace petrel::k8s
