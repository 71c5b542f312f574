// BpfLbDatapath on the real (pinned) maps: frontends become a master entry plus slots, backends
// get ids that stay stable while in use and across a restart (restore), shrinking removes the
// surplus slots and unused backends, and a removed frontend leaves nothing behind. A resync
// writes only the frontends whose Service entry changed: the others' entries are not touched
// (a value planted behind the writer's back survives), a restart's first sync writes nothing
// that is already right, and Maglev tables are rebuilt only when their backends change.
#include <arpa/inet.h>

#include <gtest/gtest.h>

#include "agent/datapath/lb_datapath.h"
#include "test/bpf/program_fixture.h"

namespace petrel::bpftest {
namespace {

core::LbFrontend frontend(const char* ip, uint16_t port) {
  return {*Ipv4Addr::parse(ip), port, core::kProtoTcp};
}

core::LbService service(const std::vector<std::string>& backend_ips,
                        const std::string& name = "default/web") {
  core::LbService s;
  s.service = name;
  s.port_name = "http";
  for (const auto& ip : backend_ips) {
    core::LbBackend b;
    b.ip = *Ipv4Addr::parse(ip);
    b.port = 8080;
    s.backends.push_back(b);
  }
  return s;
}

class LbDatapathTest : public ProgramTest {
 protected:
  std::optional<lb_service_value> entry(const core::LbFrontend& f, uint16_t slot) {
    lb_service_key k{};
    k.address = f.ip.toNetwork();
    k.port = htons(f.port);
    k.proto = f.proto;
    k.slot = slot;
    auto v = dp_->lbServices().lookup(k);
    return v ? std::optional(*v) : std::nullopt;
  }
  // The backend addresses behind slots 1..count, from the maps.
  std::vector<std::string> resolved(const core::LbFrontend& f) {
    std::vector<std::string> out;
    auto master = entry(f, 0);
    if (!master) return {"(no master)"};
    for (uint16_t s = 1; s <= master->count; ++s) {
      auto slot = entry(f, s);
      if (!slot) return {"(missing slot)"};
      auto b = dp_->lbBackends().lookup(slot->backend_id);
      if (!b) return {"(missing backend)"};
      // The slot carries its backend's address for the socket LB: it must match the entry.
      if (slot->backend_address != b->address || slot->backend_port != b->port)
        return {"(slot address differs from its backend)"};
      out.push_back(Ipv4Addr::fromNetwork(b->address).toString() + ":" +
                    std::to_string(ntohs(b->port)));
    }
    return out;
  }
  void plant(const core::LbFrontend& f, uint16_t slot, const lb_service_value& v) {
    lb_service_key k{};
    k.address = f.ip.toNetwork();
    k.port = htons(f.port);
    k.proto = f.proto;
    k.slot = slot;
    ASSERT_TRUE(dp_->lbServices().update(k, v).isOk());
  }
  size_t entries() { return dp_->lbServices().keys()->size(); }
  size_t backendEntries() { return dp_->lbBackends().keys()->size(); }
};

TEST_F(LbDatapathTest, WritesFrontendsAndShrinksCleanly) {
  datapath::BpfLbDatapath lb(dp_->lbServices(), dp_->lbBackends());
  const auto f = frontend("10.96.0.10", 80);
  ASSERT_TRUE(lb.apply({{f, service({"10.244.1.2", "10.244.2.2", "10.244.2.3"})}}).isOk());
  EXPECT_EQ(resolved(f),
            (std::vector<std::string>{"10.244.1.2:8080", "10.244.2.2:8080", "10.244.2.3:8080"}));
  EXPECT_EQ(entries(), 4u);
  const uint32_t id_of_first = entry(f, 1)->backend_id;

  ASSERT_TRUE(lb.apply({{f, service({"10.244.1.2"})}}).isOk());
  EXPECT_EQ(resolved(f), (std::vector<std::string>{"10.244.1.2:8080"}));
  EXPECT_EQ(entries(), 2u);         // master + one slot: the surplus slots are gone
  EXPECT_EQ(backendEntries(), 1u);  // and the backends nothing uses
  EXPECT_EQ(entry(f, 1)->backend_id, id_of_first);

  ASSERT_TRUE(lb.apply({{f, service({})}}).isOk());  // no endpoints: the frontend stays, count 0
  EXPECT_EQ(entry(f, 0)->count, 0);
  ASSERT_TRUE(lb.apply({}).isOk());
  EXPECT_EQ(entries(), 0u);
  EXPECT_EQ(backendEntries(), 0u);
}

// Backends offered only because none is ready are all terminating: the master says so, and
// it stops saying so once a ready one is back.
TEST_F(LbDatapathTest, TheMasterSaysWhenEveryBackendIsTerminating) {
  datapath::BpfLbDatapath lb(dp_->lbServices(), dp_->lbBackends());
  const auto f = frontend("10.96.0.10", 80);
  auto draining = service({"10.244.1.2", "10.244.2.2"});
  for (auto& b : draining.backends) b.terminating = true;
  ASSERT_TRUE(lb.apply({{f, draining}}).isOk());
  EXPECT_TRUE(entry(f, 0)->flags & LB_SVC_F_TERMINATING_ONLY);
  ASSERT_TRUE(lb.apply({{f, service({"10.244.1.3"})}}).isOk());
  EXPECT_FALSE(entry(f, 0)->flags & LB_SVC_F_TERMINATING_ONLY);
  ASSERT_TRUE(lb.apply({{f, service({})}}).isOk());
  EXPECT_FALSE(entry(f, 0)->flags & LB_SVC_F_TERMINATING_ONLY);
}

TEST_F(LbDatapathTest, ARestartedAgentKeepsIdsAndRemovesWhatIsNoLongerWanted) {
  const auto web = frontend("10.96.0.10", 80), old = frontend("10.96.0.11", 80);
  uint32_t backend_id = 0;
  uint16_t service_id = 0;
  {
    datapath::BpfLbDatapath first(dp_->lbServices(), dp_->lbBackends());
    ASSERT_TRUE(
        first.apply({{web, service({"10.244.1.2"})}, {old, service({"10.244.9.9"})}}).isOk());
    backend_id = entry(web, 1)->backend_id;
    service_id = entry(web, 0)->service_id;
  }
  datapath::BpfLbDatapath second(dp_->lbServices(), dp_->lbBackends());
  ASSERT_TRUE(second.restore().isOk());
  EXPECT_EQ(second.applied().size(), 2u);
  ASSERT_TRUE(second.apply({{web, service({"10.244.1.2", "10.244.1.3"})}}).isOk());
  EXPECT_EQ(entry(web, 1)->backend_id, backend_id);  // the same backend, the same id
  EXPECT_EQ(entry(web, 0)->service_id, service_id);
  EXPECT_EQ(resolved(web), (std::vector<std::string>{"10.244.1.2:8080", "10.244.1.3:8080"}));
  EXPECT_FALSE(entry(old, 0));  // the frontend of the previous run that is no longer wanted
  EXPECT_EQ(backendEntries(), 2u);
}

// N Services "default/svc-<i>" at 10.96.1.<i>:80, two backends each (10.244.<i>.2 and .3).
core::LbState services(int n) {
  core::LbState state;
  for (int i = 0; i < n; ++i) {
    const std::string net = "10.244." + std::to_string(i) + ".";
    state[frontend(("10.96.1." + std::to_string(i)).c_str(), 80)] =
        service({net + "2", net + "3"}, "default/svc-" + std::to_string(i));
  }
  return state;
}

TEST_F(LbDatapathTest, AddingAServiceWritesOnlyItsEntries) {
  datapath::BpfLbDatapath lb(dp_->lbServices(), dp_->lbBackends());
  ASSERT_TRUE(lb.apply(services(3)).isOk());
  EXPECT_EQ(lb.lastApply().written, 3u);
  // A value in an unchanged Service's slot that the writer did not put there: rewriting that
  // frontend would overwrite it.
  const auto untouched = frontend("10.96.1.1", 80);
  lb_service_value planted{};
  planted.backend_id = 4242;
  plant(untouched, 1, planted);

  ASSERT_TRUE(lb.apply(services(4)).isOk());
  EXPECT_EQ(lb.lastApply().written, 1u);
  EXPECT_EQ(lb.lastApply().removed, 0u);
  EXPECT_EQ(lb.lastApply().map_writes, 5u);  // 2 backends, 2 slots, the master
  EXPECT_EQ(entry(untouched, 1)->backend_id, 4242u);
  EXPECT_EQ(resolved(frontend("10.96.1.3", 80)),
            (std::vector<std::string>{"10.244.3.2:8080", "10.244.3.3:8080"}));

  ASSERT_TRUE(lb.apply(services(4)).isOk());  // nothing changed: nothing written
  EXPECT_EQ(lb.lastApply().written, 0u);
  EXPECT_EQ(lb.lastApply().map_writes, 0u);
}

TEST_F(LbDatapathTest, ChangingOrRemovingAServiceTouchesOnlyItsEntriesAndItsBackends) {
  std::vector<std::string> removed;
  datapath::BpfLbDatapath lb(dp_->lbServices(), dp_->lbBackends(),
                             [&](Ipv4Addr ip, uint16_t port, uint8_t) {
                               removed.push_back(ip.toString() + ":" + std::to_string(port));
                             });
  auto state = services(3);
  // svc-2 shares a backend with svc-1.
  state[frontend("10.96.1.2", 80)] = service({"10.244.1.3", "10.244.2.2"}, "default/svc-2");
  ASSERT_TRUE(lb.apply(state).isOk());
  EXPECT_EQ(backendEntries(), 5u);
  const uint32_t shared_id = entry(frontend("10.96.1.1", 80), 2)->backend_id;
  lb_service_value planted{};
  planted.backend_id = 4242;
  plant(frontend("10.96.1.0", 80), 1, planted);

  // svc-1 loses 10.244.1.2 (its own) and keeps 10.244.1.3 (shared with svc-2).
  state[frontend("10.96.1.1", 80)] = service({"10.244.1.3"}, "default/svc-1");
  ASSERT_TRUE(lb.apply(state).isOk());
  EXPECT_EQ(lb.lastApply().written, 1u);
  EXPECT_EQ(lb.lastApply().map_writes, 4u);  // slot 1, the master, surplus slot 2, the backend
  EXPECT_EQ(removed, (std::vector<std::string>{"10.244.1.2:8080"}));
  EXPECT_EQ(entry(frontend("10.96.1.1", 80), 1)->backend_id, shared_id);
  EXPECT_EQ(entry(frontend("10.96.1.0", 80), 1)->backend_id, 4242u);

  // svc-2 goes: its own backend goes with it, the shared one stays for svc-1.
  removed.clear();
  state.erase(frontend("10.96.1.2", 80));
  ASSERT_TRUE(lb.apply(state).isOk());
  EXPECT_EQ(lb.lastApply().written, 0u);
  EXPECT_EQ(lb.lastApply().removed, 1u);
  EXPECT_EQ(removed, (std::vector<std::string>{"10.244.2.2:8080"}));
  EXPECT_FALSE(entry(frontend("10.96.1.2", 80), 0));
  EXPECT_EQ(resolved(frontend("10.96.1.1", 80)), (std::vector<std::string>{"10.244.1.3:8080"}));
  EXPECT_EQ(backendEntries(), 3u);
  EXPECT_EQ(entry(frontend("10.96.1.0", 80), 1)->backend_id, 4242u);
}

TEST_F(LbDatapathTest, ARestartsFirstSyncWritesNothingThatIsAlreadyRight) {
  const auto state = services(3);
  std::map<core::LbFrontend, lb_service_value> masters;
  {
    datapath::BpfLbDatapath first(dp_->lbServices(), dp_->lbBackends());
    ASSERT_TRUE(first.apply(state).isOk());
    for (const auto& [f, svc] : state) masters[f] = *entry(f, 0);
  }
  std::vector<std::string> removed;
  datapath::BpfLbDatapath second(
      dp_->lbServices(), dp_->lbBackends(),
      [&](Ipv4Addr ip, uint16_t, uint8_t) { removed.push_back(ip.toString()); });
  ASSERT_TRUE(second.restore().isOk());
  ASSERT_TRUE(second.apply(state).isOk());
  EXPECT_EQ(second.lastApply().map_writes, 0u);
  EXPECT_TRUE(removed.empty());
  for (const auto& [f, master] : masters) {
    EXPECT_EQ(entry(f, 0)->service_id, master.service_id);
    EXPECT_EQ(entry(f, 0)->count, 2);
  }
  // Read-back frontends are now known as written: the next sync compares in memory.
  ASSERT_TRUE(second.apply(state).isOk());
  EXPECT_EQ(second.lastApply().written, 0u);
}

TEST_F(LbDatapathTest, ARestartRewritesSlotsThatLackTheBackendsAddress) {
  const auto state = services(2);
  const auto f = frontend("10.96.1.1", 80);
  {
    datapath::BpfLbDatapath first(dp_->lbServices(), dp_->lbBackends());
    ASSERT_TRUE(first.apply(state).isOk());
  }
  // As an older agent wrote it: the backend id only.
  lb_service_value old{};
  old.backend_id = entry(f, 1)->backend_id;
  plant(f, 1, old);
  datapath::BpfLbDatapath second(dp_->lbServices(), dp_->lbBackends());
  ASSERT_TRUE(second.restore().isOk());
  ASSERT_TRUE(second.apply(state).isOk());
  EXPECT_EQ(second.lastApply().map_writes, 2u);  // that slot and the master
  EXPECT_EQ(resolved(f), (std::vector<std::string>{"10.244.1.2:8080", "10.244.1.3:8080"}));
}

TEST_F(LbDatapathTest, MaglevTablesAreRebuiltOnlyWhenTheBackendsChange) {
  datapath::BpfLbDatapath lb(dp_->lbServices(), dp_->lbBackends());
  lb.enableMaglev(dp_->lbMaglevFd(), dp_->maglevTableSize());
  const auto node_port = frontend("192.168.200.11", 30080);
  auto svc = service({"10.244.1.2", "10.244.2.2"});
  svc.kind = core::LbKind::kNodePort;
  core::LbState state{{frontend("10.96.0.10", 80), service({"10.244.1.2", "10.244.2.2"})},
                      {node_port, svc}};
  ASSERT_TRUE(lb.apply(state).isOk());
  EXPECT_EQ(lb.lastApply().maglev_writes, 1u);  // the NodePort's; a ClusterIP has none

  state[node_port].affinity = true;  // the master changes, the backends do not
  ASSERT_TRUE(lb.apply(state).isOk());
  EXPECT_EQ(lb.lastApply().written, 1u);
  EXPECT_EQ(lb.lastApply().maglev_writes, 0u);
  EXPECT_TRUE(entry(node_port, 0)->flags & LB_SVC_F_AFFINITY);

  state[node_port].backends.pop_back();
  ASSERT_TRUE(lb.apply(state).isOk());
  EXPECT_EQ(lb.lastApply().maglev_writes, 1u);
  EXPECT_EQ(resolved(node_port), (std::vector<std::string>{"10.244.1.2:8080"}));
}

}  // namespace
}  // namespace petrel::bpftest
