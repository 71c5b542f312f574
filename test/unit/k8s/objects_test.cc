// Unit tests for the Kubernetes object decoders: objects as kubectl serialises them decode, and
// each kind of bad object is rejected with a message naming the object and the field.
#include "k8s/objects.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "k8s/cluster_network_policy.h"
#include "k8s/network_policy.h"

namespace petrel::k8s {
namespace {

using nlohmann::json;

json fixture(const std::string& name) {
  std::ifstream in(std::string(PETREL_FIXTURES_DIR) + "/k8s-recorded/" + name);
  EXPECT_TRUE(in) << "missing fixture " << name;
  std::stringstream buf;
  buf << in.rdbuf();
  return json::parse(buf.str());
}

TEST(K8sObjectsTest, DecodesAServiceAsKubectlWritesIt) {
  auto svc = decodeService(fixture("service-nodeport.json"));
  ASSERT_TRUE(svc) << svc.status().toString();
  EXPECT_EQ(svc->meta.key(), "default/web");
  EXPECT_EQ(svc->type, "NodePort");
  ASSERT_EQ(svc->cluster_ips.size(), 1u);
  EXPECT_EQ(svc->cluster_ips[0].toString(), "10.96.0.10");
  ASSERT_EQ(svc->ports.size(), 1u);
  EXPECT_EQ(svc->ports[0].port, 80);
  EXPECT_EQ(svc->ports[0].target_port, 8080);
  EXPECT_EQ(svc->ports[0].node_port, 30080);
  EXPECT_EQ(svc->selector.at("app"), "web");
}

// A LoadBalancer's addresses come from status.loadBalancer.ingress as its controller writes
// them: IPv4 addresses are kept, IPv6 ones (no IPv6 Services yet) and hostname-only entries
// (an AWS ELB's) are passed over.
TEST(K8sObjectsTest, LoadBalancerAddressesFromTheIngressStatus) {
  auto s = fixture("service-nodeport.json");
  s["spec"]["type"] = "LoadBalancer";
  s["status"]["loadBalancer"]["ingress"] = json::array(
      {{{"ip", "192.0.2.10"}, {"ipMode", "VIP"}},
       {{"hostname", "a1b2.elb.example.com"}},
       {{"ip", "2001:db8::10"}},
       {{"ip", "192.0.2.11"}, {"ports", json::array({{{"port", 80}, {"protocol", "TCP"}}})}}});
  auto svc = decodeService(s);
  ASSERT_TRUE(svc) << svc.status().toString();
  EXPECT_EQ(svc->type, "LoadBalancer");
  ASSERT_EQ(svc->load_balancer_ips.size(), 2u);
  EXPECT_EQ(svc->load_balancer_ips[0].toString(), "192.0.2.10");
  EXPECT_EQ(svc->load_balancer_ips[1].toString(), "192.0.2.11");

  s["status"]["loadBalancer"]["ingress"] = json::array({{{"ip", "192.0.2.300"}}});
  auto bad = decodeService(s);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.status().message().find("status.loadBalancer.ingress"), std::string::npos)
      << bad.status().message();
}

TEST(K8sObjectsTest, DecodesAPod) {
  auto pod = decodePod(fixture("pod.json"));
  ASSERT_TRUE(pod) << pod.status().toString();
  EXPECT_EQ(pod->node_name, "node-1");
  EXPECT_EQ(pod->service_account, "web");
  ASSERT_EQ(pod->pod_ips.size(), 1u);
  EXPECT_EQ(pod->pod_ips[0].toString(), "10.244.1.5");
  ASSERT_EQ(pod->ports.size(), 1u);
  EXPECT_EQ(pod->ports[0].name, "http");
}

TEST(K8sObjectsTest, NamedTargetPortAndHeadless) {
  auto s = fixture("service-nodeport.json");
  s["spec"]["ports"][0]["targetPort"] = "http";
  s["spec"]["clusterIP"] = "None";
  s["spec"]["clusterIPs"] = json::array({"None"});
  auto svc = decodeService(s);
  ASSERT_TRUE(svc) << svc.status().toString();
  EXPECT_TRUE(svc->headless);
  EXPECT_EQ(svc->ports[0].target_port_name, "http");
  EXPECT_EQ(svc->ports[0].target_port, 0);
}

TEST(K8sObjectsTest, RejectsBadServicesNamingObjectAndField) {
  struct Case {
    std::function<void(json&)> mutate;
    std::string field;
  };
  std::vector<Case> cases = {
      {[](json& s) { s["spec"]["clusterIPs"] = json::array({"10.96.0.300"}); }, "spec.clusterIPs"},
      {[](json& s) { s["spec"]["ports"][0]["port"] = 70000; }, "port"},
      {[](json& s) { s["spec"]["ports"][0]["port"] = "eighty"; }, "port"},
      {[](json& s) { s["spec"]["ports"][0]["protocol"] = "ICMP"; }, "protocol"},
      {[](json& s) { s["spec"]["type"] = "Magic"; }, "spec.type"},
      {[](json& s) { s["spec"]["selector"] = json::array(); }, "spec.selector"},
      {[](json& s) { s["metadata"].erase("name"); }, "metadata.name"},
      {[](json& s) { s["spec"]["externalIPs"] = json::array({"example.com"}); },
       "spec.externalIPs"},
      {[](json& s) { s["spec"] = 5; }, "spec"},
  };
  for (const auto& c : cases) {
    auto s = fixture("service-nodeport.json");
    c.mutate(s);
    auto svc = decodeService(s);
    ASSERT_FALSE(svc) << s.dump();
    EXPECT_EQ(svc.status().code(), Code::kInvalidArgument);
    EXPECT_NE(svc.status().message().find(c.field), std::string::npos) << svc.status().message();
  }
}

TEST(K8sObjectsTest, EndpointSliceConditionsDefaultsAndValidation) {
  json es = {{"kind", "EndpointSlice"},
             {"apiVersion", "discovery.k8s.io/v1"},
             {"metadata",
              {{"name", "web-abc"},
               {"namespace", "default"},
               {"labels", {{"kubernetes.io/service-name", "web"}}}}},
             {"addressType", "IPv4"},
             {"endpoints",
              json::array({{{"addresses", {"10.244.1.5"}},
                            {"nodeName", "node-1"},
                            {"targetRef", {{"kind", "Pod"}, {"name", "web-0"}}}},
                           {{"addresses", {"10.244.2.9"}},
                            {"conditions",
                             {{"ready", false}, {"serving", true}, {"terminating", true}}}}})},
             {"ports", json::array({{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}})}};
  auto slice = decodeEndpointSlice(es);
  ASSERT_TRUE(slice) << slice.status().toString();
  EXPECT_EQ(slice->service_name, "web");
  ASSERT_EQ(slice->endpoints.size(), 2u);
  EXPECT_TRUE(slice->endpoints[0].ready);
  EXPECT_EQ(slice->endpoints[0].pod_name, "web-0");
  EXPECT_FALSE(slice->endpoints[1].ready);
  EXPECT_TRUE(slice->endpoints[1].serving);
  EXPECT_TRUE(slice->endpoints[1].terminating);

  es["endpoints"][0]["addresses"][0] = "10.244.1";
  EXPECT_FALSE(decodeEndpointSlice(es));
  es["endpoints"][0]["addresses"][0] = "10.244.1.5";
  es["addressType"] = "IPX";
  EXPECT_FALSE(decodeEndpointSlice(es));
}

TEST(K8sObjectsTest, NodeCidrsAddressesAndReadiness) {
  json node = {{"kind", "Node"},
               {"metadata", {{"name", "node-1"}}},
               {"spec", {{"podCIDR", "10.244.1.0/24"}}},
               {"status",
                {{"addresses", json::array({{{"type", "InternalIP"}, {"address", "192.168.0.11"}},
                                            {{"type", "Hostname"}, {"address", "node-1"}}})},
                 {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
  auto n = decodeNode(node);
  ASSERT_TRUE(n) << n.status().toString();
  EXPECT_EQ(n->pod_cidrs, std::vector<std::string>{"10.244.1.0/24"});
  ASSERT_EQ(n->internal_ips.size(), 1u);
  EXPECT_EQ(n->internal_ips[0].toString(), "192.168.0.11");
  EXPECT_TRUE(n->ready);
  node["spec"]["podCIDR"] = "10.244.1.0/33";
  EXPECT_FALSE(decodeNode(node));
}

TEST(K8sObjectsTest, PetrelNodeCarriesPodCidrsAddressesAndEncapsulation) {
  json node = {{"apiVersion", "petrel.io/v1alpha1"},
               {"kind", "PetrelNode"},
               {"metadata", {{"name", "node-1"}, {"resourceVersion", "3"}}},
               {"spec",
                {{"ipam", {{"podCIDRs", {"10.244.1.0/24", "fd00::/64"}}}},
                 {"addresses",
                  {{{"type", "InternalIP"}, {"ip", "192.168.200.11"}},
                   {{"type", "ExternalIP"}, {"ip", "1.2.3.4"}}}},
                 {"encapsulation", "native"}}}};
  auto n = decodePetrelNode(node);
  ASSERT_TRUE(n) << n.status().message();
  ASSERT_EQ(n->pod_cidrs.size(), 1u);
  EXPECT_EQ(n->pod_cidrs[0].toString(), "10.244.1.0/24");
  ASSERT_EQ(n->internal_ips.size(), 1u);
  EXPECT_EQ(n->internal_ips[0].toString(), "192.168.200.11");
  EXPECT_EQ(n->encapsulation, "native");

  node["spec"]["encapsulation"] = "gre";
  auto bad = decodePetrelNode(node);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.status().message().find("node-1"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("spec.encapsulation"), std::string::npos);
  // A CIDR that is none is set aside, not fatal: the operator replaces it, agents route the rest.
  node["spec"]["encapsulation"] = "vxlan";
  node["spec"]["ipam"]["podCIDRs"] = {"10.244.1.0/33", "10.244.2.0/24"};
  auto malformed = decodePetrelNode(node);
  ASSERT_TRUE(malformed) << malformed.status().message();
  ASSERT_EQ(malformed->pod_cidrs.size(), 1u);
  EXPECT_EQ(malformed->pod_cidrs[0].toString(), "10.244.2.0/24");
  EXPECT_EQ(malformed->malformed_pod_cidrs, std::vector<std::string>{"10.244.1.0/33"});
  node["spec"]["addresses"][0]["ip"] = "192.168.200.x";
  EXPECT_FALSE(decodePetrelNode(node));
}

TEST(K8sObjectsTest, MetaCarriesTheCreationTimestamp) {
  json ns = {{"metadata", {{"name", "a"}, {"creationTimestamp", "2026-11-24T04:00:00Z"}}}};
  auto n = decodeNamespace(ns);
  ASSERT_TRUE(n) << n.status().message();
  EXPECT_EQ(n->meta.creation_timestamp, "2026-11-24T04:00:00Z");
  ns["metadata"]["creationTimestamp"] = 5;
  EXPECT_FALSE(decodeNamespace(ns));
}

TEST(K8sObjectsTest, NeverThrowsOnHostileInput) {
  std::vector<std::string> inputs = {
      "null",
      "1",
      "\"x\"",
      "[]",
      "{}",
      "{\"metadata\":1}",
      "{\"metadata\":{\"name\":5}}",
      "{\"metadata\":{\"name\":\"a\",\"labels\":[1]}}",
      "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"ports\":[null,1]}}",
      "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"endpoints\":[{\"addresses\":[[]]}]}",
      R"({"metadata":{"name":"a","namespace":"b"},"spec":{"ingress":[{"from":[[]]}]}})",
      R"({"metadata":{"name":"a"},"spec":{"subject":{"pods":[]},"egress":[{"to":[{"networks":[{}]}]}]}})"};
  for (const auto& text : inputs) {
    json j = json::parse(text);
    EXPECT_NO_THROW({
      (void)decodeService(j);
      (void)decodePod(j);
      (void)decodeNode(j);
      (void)decodeNamespace(j);
      (void)decodeEndpointSlice(j);
      (void)decodeNetworkPolicy(j);
      (void)decodeClusterNetworkPolicy(j);
      (void)decodePetrelNode(j);
    }) << text;
  }
}

}  // namespace
}  // namespace petrel::k8s
