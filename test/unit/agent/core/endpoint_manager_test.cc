// Unit tests for core::EndpointManager against an in-memory datapath and state store.
#include "agent/core/endpoint_manager.h"

#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <gtest/gtest.h>
#include <unistd.h>

namespace petrel::core {
namespace {

class FakeDatapath : public EndpointDatapath {
 public:
  Status apply(const Endpoint& ep) override {
    if (missing_ifaces.count(ep.host_ifname))
      return Status(Code::kNotFound, "no " + ep.host_ifname);
    entries[ep.ip.value] = ep.host_ifname;
    ++applies;
    return Status::ok();
  }
  Status remove(const Endpoint& ep) override {
    if (fail_remove) return Status(Code::kInternal, "remove failed");
    entries.erase(ep.ip.value);
    return Status::ok();
  }
  Status prune(const std::vector<Ipv4Addr>& keep) override {
    std::map<uint32_t, std::string> next;
    for (const auto& ip : keep) {
      if (entries.count(ip.value)) next[ip.value] = entries[ip.value];
    }
    pruned += entries.size() - next.size();
    entries = next;
    return Status::ok();
  }
  std::map<uint32_t, std::string> entries;
  std::set<std::string> missing_ifaces;
  bool fail_remove = false;
  int applies = 0;
  size_t pruned = 0;
};

class MemoryStore : public StateStore {
 public:
  Result<AgentState> load() override {
    if (!saved) return Status(Code::kNotFound, "nothing saved");
    return *saved;
  }
  Status save(const AgentState& state) override {
    if (fail_save) return Status(Code::kInternal, "disk full");
    saved = state;
    return Status::ok();
  }
  std::optional<AgentState> saved;
  bool fail_save = false;
};

Endpoint request(const std::string& id, const std::string& ifname = "eth0") {
  Endpoint ep;
  ep.key = {id, ifname};
  ep.pod_namespace = "default";
  ep.pod_name = "pod-" + id;
  ep.host_ifname = "lxc" + id;
  ep.host_mac = "0e:00:00:00:00:01";
  ep.pod_mac = "0a:00:00:00:00:01";
  return ep;
}

class EndpointManagerTest : public ::testing::Test {
 protected:
  Ipv4Cidr cidr_ = *Ipv4Cidr::parse("10.244.0.0/24");
  FakeDatapath dp_;
  MemoryStore store_;
  EndpointManager mgr_{cidr_, 1450, store_, dp_};

  Endpoint add(const std::string& id) {
    auto alloc = mgr_.allocateIp(request(id));
    EXPECT_TRUE(alloc) << alloc.status().toString();
    auto req = request(id);
    req.ip = alloc->ip;
    auto ep = mgr_.createEndpoint(req);
    EXPECT_TRUE(ep) << ep.status().toString();
    return *ep;
  }
};

TEST_F(EndpointManagerTest, AllocateThenCreateMakesAReadyEndpoint) {
  auto alloc = mgr_.allocateIp(request("a"));
  ASSERT_TRUE(alloc);
  EXPECT_EQ(alloc->gateway.toString(), "10.244.0.1");
  EXPECT_EQ(alloc->mtu, 1450u);
  ASSERT_TRUE(store_.saved) << "allocation must be durable before the answer";
  auto ep = add("a");
  EXPECT_EQ(ep.state, EndpointState::kReady);
  EXPECT_EQ(dp_.entries.at(ep.ip.value), "lxca");
  EXPECT_EQ(mgr_.stats().ready, 1u);
}

TEST_F(EndpointManagerTest, CreateWithoutAllocationOrWithWrongIpFails) {
  auto req = request("x");
  req.ip = *Ipv4Addr::parse("10.244.0.50");
  EXPECT_EQ(mgr_.createEndpoint(req).status().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(mgr_.allocateIp(request("x")));
  EXPECT_EQ(mgr_.createEndpoint(req).status().code(), Code::kInvalidArgument);
}

TEST_F(EndpointManagerTest, DatapathFailureLeavesEndpointNotReady) {
  auto alloc = mgr_.allocateIp(request("gone"));
  ASSERT_TRUE(alloc);
  dp_.missing_ifaces.insert("lxcgone");
  auto req = request("gone");
  req.ip = alloc->ip;
  auto ep = mgr_.createEndpoint(req);
  ASSERT_FALSE(ep);
  EXPECT_EQ(ep.status().code(), Code::kNotFound);
  EXPECT_NE(ep.status().message().find("gone/eth0"), std::string::npos);
  EXPECT_EQ(mgr_.get({"gone", "eth0"})->state, EndpointState::kIpAllocated);
}

TEST_F(EndpointManagerTest, DeleteIsIdempotentAndReleases) {
  auto ep = add("a");
  auto first = mgr_.deleteEndpoint({"a", "eth0"});
  ASSERT_TRUE(first);
  EXPECT_TRUE(*first);
  EXPECT_TRUE(dp_.entries.empty());
  auto second = mgr_.deleteEndpoint({"a", "eth0"});
  ASSERT_TRUE(second);
  EXPECT_FALSE(*second);
  EXPECT_EQ(mgr_.stats().ips_allocated, 0u);
}

TEST_F(EndpointManagerTest, FailedPersistRollsBackTheAllocation) {
  store_.fail_save = true;
  auto alloc = mgr_.allocateIp(request("a"));
  ASSERT_FALSE(alloc);
  EXPECT_EQ(mgr_.stats().ips_allocated, 0u);
  EXPECT_FALSE(mgr_.get({"a", "eth0"}));
}

TEST_F(EndpointManagerTest, RestartRestoresEndpointsAndNeverReusesAddresses) {
  auto a = add("a");
  auto b = add("b");
  ASSERT_TRUE(mgr_.deleteEndpoint({"b", "eth0"}));
  FakeDatapath dp2;
  EndpointManager restarted(cidr_, 1450, store_, dp2);
  ASSERT_TRUE(restarted.restore().isOk());
  ASSERT_TRUE(restarted.fullPass().isOk());
  EXPECT_EQ(dp2.entries.at(a.ip.value), "lxca");
  auto c = restarted.allocateIp(request("c"));
  ASSERT_TRUE(c);
  EXPECT_NE(c->ip, a.ip);
  EXPECT_NE(c->ip, b.ip) << "a released address must not come back before the pool wraps";
}

TEST_F(EndpointManagerTest, RestoreRefusesStateOfAnotherCidr) {
  add("a");
  FakeDatapath dp2;
  EndpointManager other(*Ipv4Cidr::parse("10.245.0.0/24"), 1500, store_, dp2);
  auto st = other.restore();
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_NE(st.message().find("10.244.0.0/24"), std::string::npos);
}

TEST_F(EndpointManagerTest, FullPassMarksVanishedInterfacesAndPrunesStrays) {
  auto a = add("a");
  auto b = add("b");
  dp_.entries[0x0af400fe] = "stray";  // left in the map by an older agent
  dp_.missing_ifaces.insert("lxcb");
  ASSERT_TRUE(mgr_.fullPass().isOk());
  EXPECT_EQ(mgr_.get({"b", "eth0"})->state, EndpointState::kNotReady);
  EXPECT_EQ(dp_.entries.count(0x0af400fe), 0u);
  EXPECT_EQ(dp_.entries.count(b.ip.value), 0u);
  EXPECT_EQ(dp_.entries.count(a.ip.value), 1u);
  // b keeps its address until CNI DEL or GC says it is gone.
  EXPECT_EQ(mgr_.stats().ips_allocated, 2u);
}

TEST_F(EndpointManagerTest, GarbageCollectReleasesWhatIsNotValid) {
  add("a");
  add("b");
  auto released = mgr_.garbageCollect({{"a", "eth0"}});
  ASSERT_TRUE(released);
  ASSERT_EQ(released->size(), 1u);
  EXPECT_EQ(released->front().container_id, "b");
  EXPECT_EQ(mgr_.list().size(), 1u);
}

TEST(JsonStateStoreTest, RoundTripsThroughAFile) {
  auto path = std::filesystem::temp_directory_path() /
              ("petrel-state-" + std::to_string(getpid()) + ".json");
  JsonFileStateStore store(path.string());
  EXPECT_EQ(store.load().status().code(), Code::kNotFound);
  AgentState state;
  state.pod_cidr = "10.244.0.0/24";
  state.ipam_cursor = 7;
  state.next_endpoint_id = 3;
  state.endpoints.push_back(request("a"));
  state.endpoints.back().ip = *Ipv4Addr::parse("10.244.0.5");
  state.endpoints.back().state = EndpointState::kReady;
  ASSERT_TRUE(store.save(state).isOk());
  auto loaded = store.load();
  ASSERT_TRUE(loaded) << loaded.status().toString();
  EXPECT_EQ(loaded->ipam_cursor, 7u);
  ASSERT_EQ(loaded->endpoints.size(), 1u);
  EXPECT_EQ(loaded->endpoints[0].ip.toString(), "10.244.0.5");
  EXPECT_EQ(loaded->endpoints[0].state, EndpointState::kReady);
  std::filesystem::remove(path);
}

TEST(JsonStateStoreTest, RejectsCorruptDocuments) {
  const char* bad_endpoint_ip =
      "{\"version\":1,\"podCidr\":\"x\",\"ipamCursor\":1,\"nextEndpointId\":1,"
      "\"endpoints\":[{\"id\":1,\"containerId\":\"a\",\"ifname\":\"e\",\"ip\":\"bad\"}]}";
  for (const char* bad : {"", "[]", "{\"version\":2}", "{\"version\":1}", bad_endpoint_ip}) {
    EXPECT_FALSE(decodeAgentState(bad)) << bad;
  }
}

}  // namespace
}  // namespace petrel::core
