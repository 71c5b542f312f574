// Which slices belong to which Service, and the serving terminating endpoints they list.
#include "agent/core/service_slices.h"

#include <gtest/gtest.h>

namespace petrel::core {
namespace {

k8s::EndpointSlice slice(const std::string& name, const std::string& service,
                         std::vector<k8s::EndpointSlice::Endpoint> endpoints) {
  k8s::EndpointSlice s;
  s.meta.namespace_ = "shop";
  s.meta.name = name;
  s.service_name = service;
  s.address_type = "IPv4";
  s.endpoints = std::move(endpoints);
  s.ports = {{"http", "TCP", 8080}, {"metrics", "TCP", 9090}};
  return s;
}

k8s::EndpointSlice::Endpoint endpoint(const char* ip, bool serving, bool terminating) {
  k8s::EndpointSlice::Endpoint e;
  e.addresses = {*Ipv4Addr::parse(ip)};
  e.ready = serving && !terminating;
  e.serving = serving;
  e.terminating = terminating;
  return e;
}

TEST(ServiceSlices, SlicesMapToTheirServiceAndMakeItDirty) {
  ServiceSlices s;
  EXPECT_EQ(s.update(slice("web-a", "web", {}), false), std::vector<std::string>{"shop/web"});
  EXPECT_EQ(s.update(slice("web-b", "web", {}), false), std::vector<std::string>{"shop/web"});
  EXPECT_EQ(s.slicesOf("shop/web"), (std::set<std::string>{"shop/web-a", "shop/web-b"}));
  // A slice relabelled to another Service dirties both, and leaves the first.
  EXPECT_EQ(s.update(slice("web-b", "api", {}), false),
            (std::vector<std::string>{"shop/web", "shop/api"}));
  EXPECT_EQ(s.slicesOf("shop/web"), (std::set<std::string>{"shop/web-a"}));
  EXPECT_EQ(s.update(slice("web-a", "web", {}), true), std::vector<std::string>{"shop/web"});
  EXPECT_TRUE(s.slicesOf("shop/web").empty());
  EXPECT_TRUE(s.update(slice("orphan", "", {}), false).empty()) << "no service label";
}

TEST(ServiceSlices, ServingTerminatingEndpointsAreCountedOverSlices) {
  ServiceSlices s;
  auto ip = Ipv4Addr::parse("10.244.1.7")->value;
  s.update(slice("web-a", "web", {endpoint("10.244.1.7", true, true)}), false);
  s.update(slice("web-b", "web", {endpoint("10.244.1.7", true, true)}), false);
  EXPECT_TRUE(s.servingTerminating({ip, 8080}));
  EXPECT_TRUE(s.servingTerminating({ip, 9090})) << "each port of the slice";
  EXPECT_FALSE(s.servingTerminating({ip, 80}));
  EXPECT_EQ(s.servingTerminatingByService().at("shop/web"),
            (std::set<EndpointAddr>{{ip, 8080}, {ip, 9090}}));
  // Still named by web-b after web-a drops it.
  s.update(slice("web-a", "web", {endpoint("10.244.1.7", true, false)}), false);
  EXPECT_TRUE(s.servingTerminating({ip, 8080}));
  s.update(slice("web-b", "web", {}), true);
  EXPECT_FALSE(s.servingTerminating({ip, 8080}));
  // Terminating but no longer serving does not count.
  s.update(slice("web-c", "web", {endpoint("10.244.1.7", false, true)}), false);
  EXPECT_FALSE(s.servingTerminating({ip, 8080}));
}

}  // namespace
}  // namespace petrel::core
