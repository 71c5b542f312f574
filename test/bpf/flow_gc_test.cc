// Flow garbage collection on the real pinned maps: conntrack and NAT entries idle past their
// protocol's timeout go, live ones stay. The timeouts are the documented ones, written here as
// literal durations (not the code's constants, so a wrong constant fails): README.md, answered
// connections 6 h, half-closed 2 min, closed 10 s, never answered 60 s; docs/decisions.md, UDP
// and ICMP 60 s, and the NAT table's TCP 6 h, 10 s after FIN/RST, UDP and ICMP 60 s. Each is
// checked one second either side.
#include <netinet/in.h>

#include <chrono>

#include <gtest/gtest.h>

#include "agent/datapath/flow_gc.h"
#include "test/bpf/program_fixture.h"

namespace petrel::bpftest {
namespace {

using namespace std::chrono_literals;

// The collector's clock for these tests; the entries' times are set relative to it.
constexpr uint64_t kNow = 1'000'000ull * 1'000'000'000ull;  // 1,000,000 s

uint64_t ago(std::chrono::nanoseconds d) {
  return kNow - static_cast<uint64_t>(d.count());
}

// A connection through a Service: the client's entry (client -> frontend, naming the backend)
// and the reply entry (backend -> client, naming the frontend), as the datapath writes them.
struct Connection {
  flow_key client;
  flow_key reply;
};

class FlowGcTest : public ProgramTest {
 protected:
  Connection addConnection(uint16_t client_port, uint8_t proto, uint8_t client_flags,
                           uint64_t client_seen, uint8_t reply_flags, uint64_t reply_seen) {
    Connection c{};
    c.client.saddr = htonl(0xc6336407);  // 198.51.100.7
    c.client.daddr = htonl(0xc0a8320a);  // 192.168.50.10, the frontend
    c.client.sport = htons(client_port);
    c.client.dport = htons(30080);
    c.client.proto = proto;
    c.client.dir = CT_DIR_SERVICE;
    c.client.family = PETREL_AF_INET;
    ct_entry to_backend{};
    to_backend.addr = htonl(0x0ac80002);  // 10.200.0.2
    to_backend.port = htons(8080);
    to_backend.flags = client_flags;
    to_backend.last_seen_ns = client_seen;
    c.reply.saddr = to_backend.addr;
    c.reply.daddr = c.client.saddr;
    c.reply.sport = to_backend.port;
    c.reply.dport = c.client.sport;
    c.reply.proto = proto;
    c.reply.dir = CT_DIR_REPLY;
    c.reply.family = PETREL_AF_INET;
    ct_entry to_client{};
    to_client.addr = c.client.daddr;
    to_client.port = c.client.dport;
    to_client.flags = reply_flags;
    to_client.last_seen_ns = reply_seen;
    EXPECT_TRUE(dp_->conntrack().update(c.client, to_backend).isOk());
    EXPECT_TRUE(dp_->conntrack().update(c.reply, to_client).isOk());
    return c;
  }
  flow_key addNat(uint16_t sport, uint8_t proto, uint8_t flags, uint64_t last_seen) {
    flow_key k{};
    k.saddr = htonl(0x0ac80002);
    k.sport = htons(sport);
    k.proto = proto;
    k.family = PETREL_AF_INET;
    nat_entry e{};
    e.flags = flags;
    e.last_seen_ns = last_seen;
    EXPECT_TRUE(dp_->nat().update(k, e).isOk());
    return k;
  }
  void collect() {
    auto r = datapath::collectIdleFlows(dp_->conntrack(), dp_->nat(), kNow);
    ASSERT_TRUE(r) << r.status().toString();
  }
  bool has(const flow_key& k) { return dp_->conntrack().lookup(k).isOk(); }
  bool hasNat(const flow_key& k) { return dp_->nat().lookup(k).isOk(); }
  // Both entries of `c` are there (true) or both gone (false); anything else fails.
  bool kept(const Connection& c) {
    EXPECT_EQ(has(c.client), has(c.reply)) << "one entry of a connection went, the other stayed";
    return has(c.client);
  }
};

// README: "answered connections' conntrack entries live 6 h idle".
TEST_F(FlowGcTest, AnAnsweredConnectionLivesSixHoursIdle) {
  auto young = addConnection(1, IPPROTO_TCP, 0, ago(6h - 1s), CT_F_REPLIED, ago(6h - 1s));
  auto old = addConnection(2, IPPROTO_TCP, 0, ago(6h + 1s), CT_F_REPLIED, ago(6h + 1s));
  collect();
  EXPECT_TRUE(kept(young)) << "idle 6 h - 1 s";
  EXPECT_FALSE(kept(old)) << "idle 6 h + 1 s";
}

// README: a connection never answered lives 60 s, counted from the client's last segment (a
// retransmitted SYN refreshes only the client's entry).
TEST_F(FlowGcTest, AnUnansweredConnectionLivesSixtySeconds) {
  auto young = addConnection(1, IPPROTO_TCP, 0, ago(60s - 1s), 0, ago(10min));
  auto old = addConnection(2, IPPROTO_TCP, 0, ago(60s + 1s), 0, ago(60s + 1s));
  collect();
  EXPECT_TRUE(kept(young)) << "client last seen 60 s - 1 s ago";
  EXPECT_FALSE(kept(old)) << "client last seen 60 s + 1 s ago";
}

// README: once both sides closed (FIN or RST each way) a connection lives 10 s.
TEST_F(FlowGcTest, AClosedConnectionLivesTenSeconds) {
  const uint8_t closed = CT_F_CLOSING;
  auto young =
      addConnection(1, IPPROTO_TCP, closed, ago(10s - 1s), CT_F_REPLIED | closed, ago(10s - 1s));
  auto old =
      addConnection(2, IPPROTO_TCP, closed, ago(10s + 1s), CT_F_REPLIED | closed, ago(10s + 1s));
  collect();
  EXPECT_TRUE(kept(young)) << "closed 10 s - 1 s ago";
  EXPECT_FALSE(kept(old)) << "closed 10 s + 1 s ago";
}

// README: half-closed connections live 2 min idle: the client sent its FIN, the backend still may
// send. Past that both entries go (the reply entry, which saw no FIN, does not stay for 6 h),
// and a segment either way keeps the connection.
TEST_F(FlowGcTest, AHalfClosedConnectionLivesTwoMinutes) {
  auto young =
      addConnection(1, IPPROTO_TCP, CT_F_CLOSING, ago(2min - 1s), CT_F_REPLIED, ago(2min - 1s));
  auto old =
      addConnection(2, IPPROTO_TCP, CT_F_CLOSING, ago(2min + 1s), CT_F_REPLIED, ago(2min + 1s));
  auto sending = addConnection(3, IPPROTO_TCP, CT_F_CLOSING, ago(2min + 1s), CT_F_REPLIED, ago(1s));
  collect();
  EXPECT_TRUE(kept(young)) << "half-closed 2 min - 1 s ago";
  EXPECT_FALSE(kept(old)) << "half-closed 2 min + 1 s ago";
  EXPECT_TRUE(kept(sending)) << "the backend still sends";
}

// docs/decisions.md: UDP flows go after 60 s idle.
TEST_F(FlowGcTest, AUdpFlowLivesSixtySecondsIdle) {
  auto young = addConnection(1, IPPROTO_UDP, 0, ago(60s - 1s), 0, ago(60s - 1s));
  auto old = addConnection(2, IPPROTO_UDP, 0, ago(60s + 1s), 0, ago(60s + 1s));
  collect();
  EXPECT_TRUE(kept(young)) << "idle 60 s - 1 s";
  EXPECT_FALSE(kept(old)) << "idle 60 s + 1 s";
}

// docs/decisions.md: a NAT entry lives 6 h idle for TCP, 10 s after FIN/RST, 60 s for UDP and
// ICMP.
TEST_F(FlowGcTest, NatEntriesLiveTheirProtocolsTimeout) {
  struct Case {
    const char* what;
    uint8_t proto;
    uint8_t flags;
    std::chrono::nanoseconds timeout;
  };
  const Case cases[] = {{"TCP", IPPROTO_TCP, 0, 6h},
                        {"closing TCP", IPPROTO_TCP, NAT_F_CLOSING, 10s},
                        {"UDP", IPPROTO_UDP, 0, 60s},
                        {"ICMP", IPPROTO_ICMP, 0, 60s}};
  std::vector<std::pair<flow_key, flow_key>> keys;
  uint16_t port = 1000;
  for (const auto& c : cases) {
    auto young = addNat(port++, c.proto, c.flags, ago(c.timeout - 1s));
    auto old = addNat(port++, c.proto, c.flags, ago(c.timeout + 1s));
    keys.emplace_back(young, old);
  }
  collect();
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_TRUE(hasNat(keys[i].first)) << cases[i].what << ", idle its timeout - 1 s";
    EXPECT_FALSE(hasNat(keys[i].second)) << cases[i].what << ", idle its timeout + 1 s";
  }
}

}  // namespace
}  // namespace petrel::bpftest
