// Services + EndpointSlices -> frontends and backends: every Service type, named targetPorts
// resolved per slice, ready before terminating, traffic policies, and what is left alone.
#include <gtest/gtest.h>

#include "agent/core/service_frontends.h"

namespace petrel::core {
using namespace petrel::k8s;  // the typed objects these tests build
namespace {

Ipv4Addr ip(const char* text) {
  return *Ipv4Addr::parse(text);
}

Service service(const std::string& name, const std::string& type = "ClusterIP") {
  Service s;
  s.meta.name = name;
  s.meta.namespace_ = "default";
  s.type = type;
  s.cluster_ips = {ip("10.96.0.10")};
  s.ports = {ServicePort{"http", "TCP", 80, 0, "web", 0}};
  return s;
}

EndpointSlice slice(const std::string& service, uint16_t port,
                    std::vector<EndpointSlice::Endpoint> endpoints) {
  EndpointSlice s;
  s.meta.name = service + "-" + std::to_string(port);
  s.meta.namespace_ = "default";
  s.service_name = service;
  s.address_type = "IPv4";
  s.ports = {{"http", "TCP", port}};
  s.endpoints = std::move(endpoints);
  return s;
}

EndpointSlice::Endpoint endpoint(const char* address, const std::string& node, bool ready = true,
                                 bool terminating = false) {
  EndpointSlice::Endpoint e;
  e.addresses = {ip(address)};
  e.node_name = node;
  e.ready = ready;
  e.serving = true;
  e.terminating = terminating;
  return e;
}

const LbNode kSelf{"node-1", {ip("192.168.200.11")}};

std::vector<std::string> backends(const core::LbState& state, const core::LbFrontend& f) {
  std::vector<std::string> out;
  auto it = state.find(f);
  if (it == state.end()) return {"(no frontend)"};
  for (const auto& b : it->second.backends) {
    out.push_back(b.ip.toString() + ":" + std::to_string(b.port) + (b.terminating ? "*" : ""));
  }
  return out;
}

const core::LbFrontend kClusterIp{ip("10.96.0.10"), 80, core::kProtoTcp};

TEST(ServiceFrontends, ClusterIpGetsTheReadyEndpointsWithPortsResolvedPerSlice) {
  // Two slices: the named targetPort "web" is 8080 on some pods and 9090 on others.
  auto state = serviceFrontends(
      {service("web")},
      {slice("web", 8080, {endpoint("10.244.1.2", "node-1"), endpoint("10.244.2.2", "node-2")}),
       slice("web", 9090, {endpoint("10.244.2.3", "node-2")})},
      kSelf);
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(backends(state, kClusterIp),
            (std::vector<std::string>{"10.244.1.2:8080", "10.244.2.2:8080", "10.244.2.3:9090"}));
  EXPECT_EQ(state.at(kClusterIp).service, "default/web");
  EXPECT_EQ(state.at(kClusterIp).kind, core::LbKind::kClusterIp);
}

TEST(ServiceFrontends, TerminatingEndpointsServeOnlyWhenNothingIsReady) {
  auto mixed = serviceFrontends(
      {service("web")},
      {slice("web", 8080,
             {endpoint("10.244.1.2", "node-1", false, true), endpoint("10.244.1.3", "node-1")})},
      kSelf);
  EXPECT_EQ(backends(mixed, kClusterIp), (std::vector<std::string>{"10.244.1.3:8080"}));
  auto only_terminating = serviceFrontends(
      {service("web")}, {slice("web", 8080, {endpoint("10.244.1.2", "node-1", false, true)})},
      kSelf);
  EXPECT_EQ(backends(only_terminating, kClusterIp), (std::vector<std::string>{"10.244.1.2:8080*"}));
  // Not ready and not terminating (starting up): never used.
  auto starting = serviceFrontends(
      {service("web")}, {slice("web", 8080, {endpoint("10.244.1.2", "node-1", false)})}, kSelf);
  EXPECT_TRUE(backends(starting, kClusterIp).empty());
}

TEST(ServiceFrontends, AServiceWithoutEndpointsKeepsItsFrontendSoItCanBeRefused) {
  auto state = serviceFrontends({service("web")}, {}, kSelf);
  ASSERT_EQ(state.count(kClusterIp), 1u);
  EXPECT_TRUE(state.at(kClusterIp).backends.empty());
}

TEST(ServiceFrontends, NodePortLoadBalancerAndExternalIps) {
  Service s = service("web", "LoadBalancer");
  s.ports[0].node_port = 30080;
  s.external_ips = {ip("203.0.113.5")};
  s.load_balancer_ips = {ip("198.51.100.9")};
  s.external_traffic_local = true;
  auto state = serviceFrontends(
      {s},
      {slice("web", 8080, {endpoint("10.244.1.2", "node-1"), endpoint("10.244.2.2", "node-2")})},
      kSelf);
  ASSERT_EQ(state.size(), 4u);
  // externalTrafficPolicy Local: only this node's endpoint outside the ClusterIP.
  const std::vector<std::string> local{"10.244.1.2:8080"};
  EXPECT_EQ(backends(state, {ip("192.168.200.11"), 30080, core::kProtoTcp}), local);
  EXPECT_EQ(backends(state, {ip("203.0.113.5"), 80, core::kProtoTcp}), local);
  EXPECT_EQ(backends(state, {ip("198.51.100.9"), 80, core::kProtoTcp}), local);
  EXPECT_EQ(backends(state, kClusterIp).size(), 2u);
  EXPECT_EQ(state.at({ip("192.168.200.11"), 30080, core::kProtoTcp}).kind, core::LbKind::kNodePort);
}

TEST(ServiceFrontends, InternalTrafficPolicyLocalKeepsClusterIpTrafficOnTheNode) {
  Service s = service("web");
  s.internal_traffic_local = true;
  auto state = serviceFrontends(
      {s},
      {slice("web", 8080, {endpoint("10.244.1.2", "node-1"), endpoint("10.244.2.2", "node-2")})},
      kSelf);
  EXPECT_EQ(backends(state, kClusterIp), (std::vector<std::string>{"10.244.1.2:8080"}));
}

// Policy Local with no endpoint on this node: remote_only when other nodes have endpoints
// (the packet layer drops, as kube-proxy does), not when nobody has any (it rejects).
TEST(ServiceFrontends, PolicyLocalWithEndpointsOnlyElsewhereIsRemoteOnly) {
  Service s = service("web", "NodePort");
  s.ports[0].node_port = 30080;
  s.external_traffic_local = true;
  const core::LbFrontend node_port{ip("192.168.200.11"), 30080, core::kProtoTcp};
  auto elsewhere =
      serviceFrontends({s}, {slice("web", 8080, {endpoint("10.244.2.2", "node-2")})}, kSelf);
  EXPECT_TRUE(backends(elsewhere, node_port).empty());
  EXPECT_TRUE(elsewhere.at(node_port).remote_only);
  EXPECT_FALSE(elsewhere.at(kClusterIp).remote_only);  // Cluster policy inside: node-2's
  auto nowhere = serviceFrontends({s}, {slice("web", 8080, {})}, kSelf);
  EXPECT_FALSE(nowhere.at(node_port).remote_only);
  auto here =
      serviceFrontends({s}, {slice("web", 8080, {endpoint("10.244.1.2", "node-1")})}, kSelf);
  EXPECT_FALSE(here.at(node_port).remote_only);
  s.internal_traffic_local = true;  // both Local: one list for all frontends
  auto both =
      serviceFrontends({s}, {slice("web", 8080, {endpoint("10.244.2.2", "node-2")})}, kSelf);
  EXPECT_TRUE(both.at(node_port).remote_only);
  EXPECT_TRUE(both.at(kClusterIp).remote_only);
}

TEST(ServiceFrontends, EveryFrontendOfAPortGetsTheWholeEntryWhateverThePolicies) {
  // The backends and names are moved into the last frontend that uses them: each frontend before
  // it must still get a full copy, for either list.
  for (const auto& [internal_local, external_local] :
       std::vector<std::pair<bool, bool>>{{false, false}, {true, false}, {false, true}}) {
    Service s = service("web", "LoadBalancer");
    s.cluster_ips = {ip("10.96.0.10"), ip("10.96.0.11")};
    s.ports[0].node_port = 30080;
    s.external_ips = {ip("203.0.113.5")};
    s.load_balancer_ips = {ip("198.51.100.9")};
    s.internal_traffic_local = internal_local;
    s.external_traffic_local = external_local;
    const LbNode self{"node-1", {ip("192.168.200.11"), ip("192.168.201.11")}};
    auto state = serviceFrontends(
        {s},
        {slice("web", 8080, {endpoint("10.244.1.2", "node-1"), endpoint("10.244.2.2", "node-2")})},
        self);
    ASSERT_EQ(state.size(), 6u);
    const std::vector<std::string> all{"10.244.1.2:8080", "10.244.2.2:8080"};
    const std::vector<std::string> local{"10.244.1.2:8080"};
    for (const auto& [f, svc] : state) {
      const bool cluster_ip = svc.kind == core::LbKind::kClusterIp;
      EXPECT_EQ(backends(state, f), (cluster_ip ? internal_local : external_local) ? local : all)
          << f.toString();
      EXPECT_EQ(svc.service, "default/web") << f.toString();
      EXPECT_EQ(svc.port_name, "http") << f.toString();
      EXPECT_EQ(svc.backends.front().node, "node-1") << f.toString();
    }
  }
}

TEST(ServiceFrontends, UdpAndSeveralPortsAndWhatIsLeftAlone) {
  Service dns = service("dns");
  dns.ports = {ServicePort{"dns", "UDP", 53, 53, "", 0},
               ServicePort{"dns-tcp", "TCP", 53, 53, "", 0},
               ServicePort{"sctp", "SCTP", 99, 99, "", 0}};
  EndpointSlice dns_slice = slice("dns", 53, {endpoint("10.244.1.9", "node-1")});
  dns_slice.ports = {{"dns", "UDP", 53}, {"dns-tcp", "TCP", 53}, {"sctp", "SCTP", 99}};
  Service headless = service("headless");
  headless.headless = true;
  headless.cluster_ips.clear();
  Service external_name = service("ext", "ExternalName");
  external_name.cluster_ips.clear();
  auto state = serviceFrontends({dns, headless, external_name}, {dns_slice}, kSelf);
  ASSERT_EQ(state.size(), 2u);  // UDP 53 and TCP 53; no SCTP, no headless, no ExternalName
  EXPECT_EQ(backends(state, {ip("10.96.0.10"), 53, core::kProtoUdp}),
            (std::vector<std::string>{"10.244.1.9:53"}));
  EXPECT_EQ(backends(state, {ip("10.96.0.10"), 53, core::kProtoTcp}),
            (std::vector<std::string>{"10.244.1.9:53"}));
}

// Backends come in one order, by address then port, however the slices list them: the Maglev
// table depends on the order of its backends, and every node must build the same one.
TEST(ServiceFrontends, BackendsAreSortedByAddressWhateverTheSlicesOrder) {
  auto one_way = serviceFrontends(
      {service("web")},
      {slice("web", 8080, {endpoint("10.244.2.2", "node-2"), endpoint("10.244.1.10", "node-1")}),
       slice("web", 9090, {endpoint("10.244.1.9", "node-1")})},
      kSelf);
  auto other_way = serviceFrontends(
      {service("web")},
      {slice("web", 9090, {endpoint("10.244.1.9", "node-1")}),
       slice("web", 8080, {endpoint("10.244.1.10", "node-1"), endpoint("10.244.2.2", "node-2")})},
      kSelf);
  const std::vector<std::string> sorted = {"10.244.1.9:9090", "10.244.1.10:8080",
                                           "10.244.2.2:8080"};
  EXPECT_EQ(backends(one_way, kClusterIp), sorted);
  EXPECT_EQ(backends(other_way, kClusterIp), sorted);
}

}  // namespace
}  // namespace petrel::core
