// Flow garbage collection on the real pinned maps: conntrack and NAT entries idle past their
// protocol's timeout go, live ones stay.
#include <netinet/in.h>

#include <gtest/gtest.h>

#include "agent/datapath/flow_gc.h"
#include "agent/datapath/flow_key.h"
#include "test/bpf/program_fixture.h"

namespace petrel::bpftest {
namespace {

constexpr uint64_t kSecond = 1000000000ull;

class FlowGcTest : public ProgramTest {
 protected:
  void addCt(uint16_t sport, uint8_t proto, uint8_t flags, uint64_t last_seen) {
    const flow_key k =
        datapath::makeFlowKey(0x01020304, 0x05060708, sport, 80, proto, CT_DIR_SERVICE);
    ct_entry e{};
    e.flags = flags;
    e.last_seen_ns = last_seen;
    ASSERT_TRUE(dp_->conntrack().update(k, e).isOk());
  }
  void addNat(uint16_t sport, uint8_t proto, uint8_t flags, uint64_t last_seen) {
    const flow_key k = datapath::makeFlowKey(0x01020304, 0, sport, 0, proto, NAT_DIR_EGRESS);
    nat_entry e{};
    e.flags = flags;
    e.last_seen_ns = last_seen;
    ASSERT_TRUE(dp_->nat().update(k, e).isOk());
  }
};

TEST_F(FlowGcTest, RemovesWhatIsIdlePastItsTimeoutAndKeepsTheRest) {
  const uint64_t now = 10'000 * kSecond;
  addCt(1, IPPROTO_TCP, CT_F_REPLIED, now - 3600 * kSecond);               // established: stays
  addCt(2, IPPROTO_TCP, 0, now - 120 * kSecond);                           // never answered: goes
  addCt(3, IPPROTO_TCP, CT_F_REPLIED | CT_F_CLOSING, now - 30 * kSecond);  // closed: goes
  addCt(4, IPPROTO_UDP, 0, now - 30 * kSecond);                            // UDP, recent: stays
  addCt(5, IPPROTO_UDP, 0, now - 90 * kSecond);                            // UDP, idle: goes
  addNat(1, IPPROTO_TCP, 0, now - 3600 * kSecond);                         // stays
  addNat(2, IPPROTO_TCP, NAT_F_CLOSING, now - 30 * kSecond);               // goes
  addNat(3, IPPROTO_ICMP, 0, now - 90 * kSecond);                          // goes
  auto r = datapath::collectIdleFlows(dp_->conntrack(), dp_->nat(), now);
  ASSERT_TRUE(r) << r.status().toString();
  EXPECT_EQ(r->ct_deleted, 3u);
  EXPECT_EQ(r->ct_kept, 2u);
  EXPECT_EQ(r->nat_deleted, 2u);
  EXPECT_EQ(r->nat_kept, 1u);
  EXPECT_EQ(dp_->conntrack().keys()->size(), 2u);
  EXPECT_EQ(dp_->nat().keys()->size(), 1u);
}

}  // namespace
}  // namespace petrel::bpftest
