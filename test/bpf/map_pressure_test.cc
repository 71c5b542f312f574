// The agent's writes into full maps (docs/decisions.md, "Full maps"), on real pinned maps made
// small: endpoints, tunnel, Service entries, backends and Maglev tables. A refused write fails
// with RESOURCE_EXHAUSTED and a message naming the map and its capacity, and readMapPressure
// (what `petrel status` shows) counts it, with the map's entries and capacity.
#include <arpa/inet.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "agent/datapath/endpoint_datapath.h"
#include "agent/datapath/lb_datapath.h"
#include "agent/datapath/map_pressure.h"
#include "test/bpf/program_fixture.h"

namespace petrel::bpftest {
namespace {

core::LbService service(const std::vector<std::string>& backend_ips, core::LbKind kind) {
  core::LbService s;
  s.service = "default/web";
  s.kind = kind;
  for (const auto& ip : backend_ips) {
    core::LbBackend b;
    b.ip = *Ipv4Addr::parse(ip);
    b.port = 8080;
    s.backends.push_back(b);
  }
  return s;
}

core::LbFrontend frontend(const char* ip) {
  return {*Ipv4Addr::parse(ip), 80, core::kProtoTcp};
}

class MapPressureTest : public ProgramTest {
 protected:
  // The fixture's two pods fill the endpoint map.
  datapath::LoadOptions loadOptions() const override {
    datapath::LoadOptions o;
    o.map_resizes = {{PETREL_MAP_ENDPOINTS, 2},
                     {PETREL_MAP_TUNNEL, 1},
                     {PETREL_MAP_LB_SERVICES, 4},
                     {PETREL_MAP_LB_BACKENDS, 3},
                     {PETREL_MAP_LB_MAGLEV, 1}};
    return o;
  }
  datapath::MapPressure pressure(const char* name) {
    auto all = datapath::readMapPressure(pin_root_);
    EXPECT_TRUE(all) << all.status().toString();
    if (!all) return {};
    auto it = std::find_if(all->begin(), all->end(), [&](const auto& m) { return m.name == name; });
    EXPECT_NE(it, all->end()) << name << " is not listed";
    return it == all->end() ? datapath::MapPressure{} : *it;
  }
  // A refused write: RESOURCE_EXHAUSTED, the map and its capacity named, and counted.
  void expectRefused(const Status& st, const char* map, uint64_t capacity) {
    EXPECT_EQ(st.code(), Code::kResourceExhausted) << st.toString();
    EXPECT_NE(st.message().find(map), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("capacity of " + std::to_string(capacity) + " entries"),
              std::string::npos)
        << st.message();
    auto p = pressure(map);
    EXPECT_EQ(p.capacity, capacity);
    EXPECT_EQ(p.refused_writes, 1u);
    EXPECT_EQ(p.last_refused, st.message());
  }
};

TEST_F(MapPressureTest, EveryMapThatCanFillUpIsListedWithItsEntriesAndCapacity) {
  auto all = datapath::readMapPressure(pin_root_);
  ASSERT_TRUE(all) << all.status().toString();
  std::vector<std::string> names;
  for (const auto& m : *all) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       PETREL_MAP_ENDPOINTS, PETREL_MAP_TUNNEL, PETREL_MAP_LB_SERVICES,
                       PETREL_MAP_LB_BACKENDS, PETREL_MAP_LB_MAGLEV, PETREL_MAP_LB_AFFINITY,
                       PETREL_MAP_LB_SOCK_REVNAT, PETREL_MAP_CT, PETREL_MAP_NAT}));
  auto endpoints = pressure(PETREL_MAP_ENDPOINTS);
  EXPECT_EQ(endpoints.entries, 2u);
  EXPECT_EQ(endpoints.capacity, 2u);
  EXPECT_FALSE(endpoints.evicts);
  EXPECT_EQ(endpoints.refused_writes, 0u);
  auto ct = pressure(PETREL_MAP_CT);
  EXPECT_EQ(ct.entries, 0u);
  EXPECT_EQ(ct.capacity, uint64_t{PETREL_MAX_CT_ENTRIES});
  EXPECT_TRUE(ct.evicts);  // an LRU: full, it evicts instead of refusing
  EXPECT_TRUE(pressure(PETREL_MAP_NAT).evicts);
}

TEST_F(MapPressureTest, AnEndpointTheMapHasNoRoomForIsRefusedNamingTheMap) {
  datapath::BpfEndpointDatapath endpoints(
      dp_->endpoints(), [](uint32_t) { return Status::ok(); },
      [](const std::string&) { return Result<uint32_t>(uint32_t{4343}); });
  core::Endpoint ep;
  ep.id = 3;
  ep.ip = *Ipv4Addr::parse("10.200.0.4");
  ep.host_ifname = "lxc0000000004";
  ep.pod_mac = "0a:00:00:00:00:04";
  ep.host_mac = "0e:00:00:00:00:04";
  expectRefused(endpoints.apply(ep), PETREL_MAP_ENDPOINTS, 2);
  // An endpoint that has its entry is rewritten as ever.
  addEndpoint(kPodA);
}

TEST_F(MapPressureTest, ATunnelPrefixTheTrieHasNoRoomForIsRefusedNamingTheMap) {
  addTunnel("10.201.0.0", 16, "192.168.50.11");
  tunnel_key key{};
  key.prefixlen = TUNNEL_KEY_PREFIX_BITS + 16;
  key.family = PETREL_AF_INET;
  key.ip4 = inet_addr("10.202.0.0");
  tunnel_info info{};
  info.family = PETREL_AF_INET;
  info.ip4 = inet_addr("192.168.50.12");
  expectRefused(dp_->tunnels().update(key, info), PETREL_MAP_TUNNEL, 1);
}

TEST_F(MapPressureTest, ServiceEntriesTheMapHasNoRoomForAreRefusedNamingTheMap) {
  datapath::BpfLbDatapath lb(dp_->lbServices(), dp_->lbBackends());
  core::LbState state{{frontend("10.96.0.1"), service({"10.200.0.2"}, core::LbKind::kClusterIp)},
                      {frontend("10.96.0.2"), service({"10.200.0.2"}, core::LbKind::kClusterIp)}};
  ASSERT_TRUE(lb.apply(state).isOk());  // two masters and two slots: full
  state[frontend("10.96.0.3")] = service({"10.200.0.2"}, core::LbKind::kClusterIp);
  expectRefused(lb.apply(state), PETREL_MAP_LB_SERVICES, 4);
  EXPECT_EQ(pressure(PETREL_MAP_LB_SERVICES).entries, 4u);
}

TEST_F(MapPressureTest, BackendsTheMapHasNoRoomForAreRefusedNamingTheMap) {
  datapath::BpfLbDatapath lb(dp_->lbServices(), dp_->lbBackends());
  core::LbState state{{frontend("10.96.0.1"), service({"10.200.0.2", "10.200.0.3", "10.200.0.4"},
                                                      core::LbKind::kClusterIp)}};
  ASSERT_TRUE(lb.apply(state).isOk());
  state[frontend("10.96.0.1")] =
      service({"10.200.0.2", "10.200.0.3", "10.200.0.5"}, core::LbKind::kClusterIp);
  // The new backend needs its entry before the old one is let go.
  expectRefused(lb.apply(state), PETREL_MAP_LB_BACKENDS, 3);
}

TEST_F(MapPressureTest, AMaglevTableTheMapHasNoRoomForIsRefusedNamingTheMap) {
  datapath::BpfLbDatapath lb(dp_->lbServices(), dp_->lbBackends());
  lb.enableMaglev(dp_->lbMaglevFd(), dp_->maglevTableSize());
  core::LbState state{
      {frontend("192.168.50.10"), service({"10.200.0.2"}, core::LbKind::kNodePort)}};
  ASSERT_TRUE(lb.apply(state).isOk());
  state[frontend("203.0.113.10")] = service({"10.200.0.2"}, core::LbKind::kExternalIp);
  expectRefused(lb.apply(state), PETREL_MAP_LB_MAGLEV, 1);
}

}  // namespace
}  // namespace petrel::bpftest
