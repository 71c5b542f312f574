// The flows reconciler without root: over in-memory conntrack and NAT maps with a fake clock,
// forget() requests drop both entries of a removed backend's connections on the next pass, and a
// full pass collects idle flows.
#include "agent/daemon/flow_reconciler.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include "agent/datapath/fake_map.h"

namespace petrel::agent {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;

// A TCP connection client -> frontend translated to `backend`: the client's entry and the reply
// entry, as the uplink program writes them.
void addConnection(datapath::FakeMap<ct_key, ct_entry>& ct, uint32_t client, uint16_t client_port,
                   uint32_t backend, uint16_t backend_port, uint64_t seen_ns) {
  ct_key k{};
  k.saddr = htonl(client);
  k.sport = htons(client_port);
  k.daddr = htonl(0xc0000201);  // the frontend 192.0.2.1
  k.dport = htons(30080);
  k.proto = IPPROTO_TCP;
  k.dir = CT_DIR_SERVICE;
  ct_entry e{};
  e.addr = htonl(backend);
  e.port = htons(backend_port);
  e.last_seen_ns = seen_ns;
  ASSERT_TRUE(ct.update(k, e).isOk());
  ct_key r{};
  r.saddr = htonl(backend);
  r.sport = htons(backend_port);
  r.daddr = htonl(client);
  r.dport = htons(client_port);
  r.proto = IPPROTO_TCP;
  r.dir = CT_DIR_REPLY;
  ct_entry re{};
  re.addr = k.daddr;
  re.port = k.dport;
  re.flags = CT_F_REPLIED;
  re.last_seen_ns = seen_ns;
  ASSERT_TRUE(ct.update(r, re).isOk());
}

TEST(FlowReconciler, ForgetsBothEntriesOfARemovedBackendsConnections) {
  datapath::FakeMap<ct_key, ct_entry> ct("petrel_ct");
  datapath::FakeMap<nat_key, nat_entry> nat("petrel_nat");
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
  datapath::FakeMap<ct_key, ct_entry> ct("petrel_ct");
  datapath::FakeMap<nat_key, nat_entry> nat("petrel_nat");
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
