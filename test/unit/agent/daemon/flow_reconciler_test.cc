// The flows reconciler without root: over in-memory conntrack and NAT maps with a fake clock,
// forget() requests drop both entries of a removed backend's connections on the next pass, and a
// full pass collects idle flows.
#include "agent/daemon/flow_reconciler.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include "agent/datapath/fake_map.h"
#include "agent/datapath/flow_key.h"

namespace petrel::agent {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;

// A TCP connection client -> frontend translated to `backend`: the client's entry and the reply
// entry, as the uplink program writes them.
void addConnection(datapath::FakeMap<flow_key, ct_entry>& ct, uint32_t client, uint16_t client_port,
                   uint32_t backend, uint16_t backend_port, uint64_t seen_ns) {
  const flow_key k = datapath::makeFlowKey(htonl(client), htonl(0xc0000201), htons(client_port),
                                           htons(30080), IPPROTO_TCP, CT_DIR_SERVICE);
  ct_entry e{};
  e.addr = htonl(backend);
  e.port = htons(backend_port);
  e.last_seen_ns = seen_ns;
  ASSERT_TRUE(ct.update(k, e).isOk());
  const flow_key r = datapath::makeFlowKey(htonl(backend), htonl(client), htons(backend_port),
                                           htons(client_port), IPPROTO_TCP, CT_DIR_REPLY);
  ct_entry re{};
  re.addr = k.daddr;
  re.port = k.dport;
  re.flags = CT_F_REPLIED;
  re.last_seen_ns = seen_ns;
  ASSERT_TRUE(ct.update(r, re).isOk());
}

TEST(FlowReconciler, ForgetsBothEntriesOfARemovedBackendsConnections) {
  datapath::FakeMap<flow_key, ct_entry> ct("petrel_ct");
  datapath::FakeMap<flow_key, nat_entry> nat("petrel_nat");
  uint64_t now = 100 * kSecond;
  FlowReconciler flows(ct, nat, [&] { return now; });
  addConnection(ct, 0x0a000001, 40000, 0x0af40105, 8080, now);  // to backend .5
  addConnection(ct, 0x0a000002, 40001, 0x0af40106, 8080, now);  // to backend .6
  ASSERT_EQ(ct.size(), 4u);
  flows.forget({0x0af40105, 8080, IPPROTO_TCP});
  ASSERT_TRUE(flows.reconcile(ReconcilePass{false}).isOk());
  EXPECT_EQ(ct.size(), 2u) << "both entries of the connection to .5 went, .6's stayed";
  ASSERT_TRUE(flows.reconcile(ReconcilePass{false}).isOk());
  EXPECT_EQ(ct.size(), 2u) << "a request is done once";
  flows.forget({0x0af40106, 8080, 0});  // 0: either protocol
  ASSERT_TRUE(flows.reconcile(ReconcilePass{false}).isOk());
  EXPECT_EQ(ct.size(), 0u);
}

TEST(FlowReconciler, OnlyAFullPassCollectsIdleFlows) {
  datapath::FakeMap<flow_key, ct_entry> ct("petrel_ct");
  datapath::FakeMap<flow_key, nat_entry> nat("petrel_nat");
  uint64_t now = 100 * kSecond;
  FlowReconciler flows(ct, nat, [&] { return now; });
  addConnection(ct, 0x0a000001, 40000, 0x0af40105, 8080, now);
  now += 6 * 3600 * kSecond + kSecond;  // an answered connection idle 6 h and a second
  ASSERT_TRUE(flows.reconcile(ReconcilePass{false}).isOk());
  EXPECT_EQ(ct.size(), 2u) << "incremental passes do not sweep";
  ASSERT_TRUE(flows.reconcile(ReconcilePass{true}).isOk());
  EXPECT_EQ(ct.size(), 0u);
}

}  // namespace
}  // namespace petrel::agent
