// FrontendIndex: after any sequence of per-Service updates the state equals a full
// serviceFrontends() over the same objects, and an update touches only its Service's frontends.
#include <gtest/gtest.h>

#include "agent/core/frontend_index.h"

namespace petrel::core {
using namespace petrel::k8s;  // the typed objects these tests build
namespace {

Ipv4Addr ip(const std::string& text) {
  return *Ipv4Addr::parse(text);
}

Service service(int i, const std::string& type = "NodePort") {
  Service s;
  s.meta.name = "svc-" + std::to_string(i);
  s.meta.namespace_ = "default";
  s.type = type;
  s.cluster_ips = {ip("10.96.0." + std::to_string(10 + i))};
  s.ports = {ServicePort{"http", "TCP", 80, static_cast<uint16_t>(30000 + i), "web", 0}};
  return s;
}

EndpointSlice slice(int i, std::vector<std::string> addresses, bool terminating = false) {
  EndpointSlice s;
  s.meta.name = "svc-" + std::to_string(i) + "-abc";
  s.meta.namespace_ = "default";
  s.service_name = "svc-" + std::to_string(i);
  s.address_type = "IPv4";
  s.ports = {{"http", "TCP", 8080}};
  for (const auto& a : addresses) {
    EndpointSlice::Endpoint e;
    e.addresses = {ip(a)};
    e.node_name = "node-2";
    e.ready = !terminating;
    e.serving = true;
    e.terminating = terminating;
    s.endpoints.push_back(e);
  }
  return s;
}

const LbNode kSelf{"node-1", {ip("192.168.200.11")}};

TEST(FrontendIndex, PerServiceUpdatesEqualAFullRebuild) {
  std::vector<Service> services = {service(1), service(2), service(3, "ClusterIP")};
  std::vector<EndpointSlice> slices = {slice(1, {"10.244.2.5"}), slice(2, {"10.244.2.6"}),
                                       slice(3, {"10.244.2.7"})};
  FrontendIndex index;
  index.rebuild(services, slices, kSelf);
  EXPECT_EQ(index.state(), serviceFrontends(services, slices, kSelf));
  const auto untouched = index.state().at({ip("10.96.0.11"), 80, core::kProtoTcp});

  // A Service added with its slice.
  services.push_back(service(4));
  slices.push_back(slice(4, {"10.244.2.8", "10.244.2.9"}));
  index.update("default/svc-4", services.back(), {slices.back()}, kSelf);
  EXPECT_EQ(index.state(), serviceFrontends(services, slices, kSelf));
  // Its endpoints changed (one terminating now).
  slices.back() = slice(4, {"10.244.2.8"}, true);
  index.update("default/svc-4", services.back(), {slices.back()}, kSelf);
  EXPECT_EQ(index.state(), serviceFrontends(services, slices, kSelf));
  // Another Service's type changed: its NodePort frontend goes.
  services[1].type = "ClusterIP";
  index.update("default/svc-2", services[1], {slices[1]}, kSelf);
  EXPECT_EQ(index.state(), serviceFrontends(services, slices, kSelf));
  // A Service deleted.
  services.erase(services.begin() + 2);
  index.update("default/svc-3", std::nullopt, {}, kSelf);
  EXPECT_EQ(index.state(), serviceFrontends(services, slices, kSelf));
  // The first Service was never recomputed and is as it was.
  EXPECT_EQ(index.state().at({ip("10.96.0.11"), 80, core::kProtoTcp}), untouched);
}

TEST(FrontendIndex, ADeletedServiceLeavesAnAddressAnotherServiceNowHolds) {
  Service a = service(1), b = service(2);
  b.cluster_ips = a.cluster_ips;  // a clash: the later Service holds the frontend
  FrontendIndex index;
  index.update("default/svc-1", a, {slice(1, {"10.244.2.5"})}, kSelf);
  index.update("default/svc-2", b, {slice(2, {"10.244.2.6"})}, kSelf);
  index.update("default/svc-1", std::nullopt, {}, kSelf);
  auto it = index.state().find({ip("10.96.0.11"), 80, core::kProtoTcp});
  ASSERT_NE(it, index.state().end());
  EXPECT_EQ(it->second.service, "default/svc-2");
}

}  // namespace
}  // namespace petrel::core
