// Unit tests: CNI result JSON per cniVersion, error JSON, VERSION output, prevResult parsing.
#include <gtest/gtest.h>

#include "cni-plugin/result.h"

namespace petrel::cni {
namespace {

using nlohmann::json;

AddResult sample() {
  AddResult r;
  r.host_ifname = "lxc0123456789ab";
  r.host_mac = {0x02, 0, 0, 0, 0, 0x01};
  r.pod_ifname = "eth0";
  r.pod_mac = {0x02, 0, 0, 0, 0, 0x02};
  r.sandbox = "/var/run/netns/p";
  r.mtu = 1450;
  r.ip = *Ipv4Addr::parse("10.244.0.7");
  r.gateway = *Ipv4Addr::parse("10.244.0.1");
  return r;
}

TEST(CniResult, Version110) {
  json j = addResultJson(sample(), "1.1.0");
  EXPECT_EQ(j["cniVersion"], "1.1.0");
  ASSERT_EQ(j["interfaces"].size(), 2u);
  EXPECT_EQ(j["interfaces"][0],
            (json{{"name", "lxc0123456789ab"}, {"mac", "02:00:00:00:00:01"}, {"mtu", 1450}}));
  EXPECT_EQ(j["interfaces"][1], (json{{"name", "eth0"},
                                      {"mac", "02:00:00:00:00:02"},
                                      {"sandbox", "/var/run/netns/p"},
                                      {"mtu", 1450}}));
  EXPECT_EQ(j["ips"],
            json::parse(R"([{"address":"10.244.0.7/32","gateway":"10.244.0.1","interface":1}])"));
  EXPECT_EQ(j["routes"], json::parse(R"([{"dst":"0.0.0.0/0","gw":"10.244.0.1"}])"));
}

TEST(CniResult, Version100HasNoMtuNorIpVersion) {
  json j = addResultJson(sample(), "1.0.0");
  EXPECT_EQ(j["cniVersion"], "1.0.0");
  EXPECT_FALSE(j["interfaces"][0].contains("mtu"));
  EXPECT_FALSE(j["interfaces"][1].contains("mtu"));
  EXPECT_FALSE(j["ips"][0].contains("version"));
  EXPECT_EQ(j["ips"][0]["interface"], 1);
}

TEST(CniResult, Version040HasIpVersion) {
  for (const char* v : {"0.4.0", "0.3.1", "0.3.0"}) {
    json j = addResultJson(sample(), v);
    EXPECT_EQ(j["cniVersion"], v);
    EXPECT_EQ(j["ips"][0]["version"], "4") << v;
    EXPECT_EQ(j["ips"][0]["address"], "10.244.0.7/32");
    EXPECT_FALSE(j["interfaces"][1].contains("mtu"));
  }
}

TEST(CniResult, ErrorJson) {
  json j = errorJson({7, "bad config", "line 1"}, "1.0.0");
  EXPECT_EQ(
      j,
      (json{{"cniVersion", "1.0.0"}, {"code", 7}, {"msg", "bad config"}, {"details", "line 1"}}));
  json k = errorJson({11, "later", ""}, "1.1.0");
  EXPECT_FALSE(k.contains("details"));
  EXPECT_EQ(k["code"], 11);
}

TEST(CniResult, VersionJson) {
  json j = versionJson("1.1.0");
  EXPECT_EQ(j["cniVersion"], "1.1.0");
  EXPECT_EQ(j["supportedVersions"], json::parse(R"(["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"])"));
}

TEST(CniPrevResult, RoundTripsAddResult) {
  auto prev = parsePrevResult(addResultJson(sample(), "1.1.0"));
  ASSERT_TRUE(prev.ok()) << prev.error().msg;
  EXPECT_EQ(prev->ip.toString(), "10.244.0.7");
  ASSERT_TRUE(prev->gateway.has_value());
  EXPECT_EQ(prev->gateway->toString(), "10.244.0.1");
  EXPECT_EQ(prev->host_ifname, "lxc0123456789ab");
  EXPECT_EQ(prev->pod_ifname, "eth0");
}

TEST(CniPrevResult, MalformedIsCode7) {
  EXPECT_EQ(parsePrevResult(json::object()).error().code, 7);
  EXPECT_EQ(
      parsePrevResult(json::parse(R"({"ips":[{"address":"nope"}],"interfaces":[]})")).error().code,
      7);
  EXPECT_EQ(
      parsePrevResult(
          json::parse(R"({"ips":[{"address":"10.0.0.1/32"}],"interfaces":[{"name":"eth0"}]})"))
          .error()
          .code,
      7);
}

}  // namespace
}  // namespace petrel::cni
