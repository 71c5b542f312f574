// BpfLbDatapath on the real (pinned) maps: frontends become a master entry plus slots, backends
// get ids that stay stable while in use and across a restart (restore), shrinking removes the
// surplus slots and unused backends, and a removed frontend leaves nothing behind.
#include <arpa/inet.h>

#include <gtest/gtest.h>

#include "agent/datapath/lb_datapath.h"
#include "test/bpf/program_fixture.h"

namespace petrel::bpftest {
namespace {

core::LbFrontend frontend(const char* ip, uint16_t port) {
  return {*Ipv4Addr::parse(ip), port, core::kProtoTcp};
}

core::LbService service(const std::vector<std::string>& backend_ips) {
  core::LbService s;
  s.service = "default/web";
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
      out.push_back(Ipv4Addr::fromNetwork(b->address).toString() + ":" +
                    std::to_string(ntohs(b->port)));
    }
    return out;
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

}  // namespace
}  // namespace petrel::bpftest
