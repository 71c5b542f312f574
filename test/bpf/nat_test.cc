// BPF program tests for masquerading: the uplink programs translate a pod's flows to
// the outside to the node address and an allocated port, translate the replies back with valid
// checksums, leave in-cluster, node and inbound traffic alone, and fail cleanly (a counted drop)
// when ports run out, the NAT map is full or a packet cannot be translated.
#include <arpa/inet.h>
#include <linux/pkt_cls.h>

#include <chrono>
#include <set>
#include <thread>

#include <cstdio>

#include <gtest/gtest.h>

#include "reasons.h"
#include "test/bpf/packet_builder.h"
#include "test/bpf/program_fixture.h"

namespace petrel::bpftest {
namespace {

constexpr const char* kNodeIp = "192.168.50.10";
constexpr const char* kOutside = "198.51.100.7";
constexpr uint16_t kPortMin = 61000;  // configureUplink() gives 100 ports from here

class NatProgramTest : public ProgramTest {
 protected:
  void SetUp() override {
    ProgramTest::SetUp();
    if (HasFatalFailure()) return;
    configureUplink(kNodeIp).masquerade = 1;
    addTunnel("10.201.0.0", 16, "192.168.50.11");  // another node's pods: never masqueraded
  }
  PacketBuilder fromPod(const std::string& src, const std::string& dst) {
    PacketBuilder b;
    b.eth(mac(kPodB.host_mac), mac("02:00:00:00:00:01")).ipv4(src, dst, 63);
    return b;
  }
  PacketBuilder toNode(const std::string& src) {
    PacketBuilder b;
    b.eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02")).ipv4(src, kNodeIp, 60);
    return b;
  }
  RunResult egress(const std::vector<uint8_t>& frame) { return run(frame, dp_->uplinkEgressFd()); }
  RunResult ingress(const std::vector<uint8_t>& frame) {
    return run(frame, dp_->uplinkIngressFd());
  }
  size_t natEntries() {
    auto keys = dp_->nat().keys();
    EXPECT_TRUE(keys) << keys.status().toString();
    return keys ? keys->size() : 0;
  }
};

TEST_F(NatProgramTest, TcpToTheOutsideLeavesWithTheNodeAddressAndTheReplyComesBack) {
  uint64_t out_before = counter(PETREL_MASQUERADED, METRIC_DIR_EGRESS);
  auto syn = egress(fromPod(kPodB.ip, kOutside).tcp(40000, 443).payload("x").build());
  ASSERT_EQ(syn.verdict, TC_ACT_OK);
  PacketView out{syn.out};
  EXPECT_EQ(out.ipSrc(), kNodeIp);
  EXPECT_EQ(out.ipDst(), kOutside);
  const uint16_t port = out.sport();
  EXPECT_GE(port, kPortMin);
  EXPECT_LE(port, kPortMin + 99);
  EXPECT_EQ(out.dport(), 443);
  EXPECT_TRUE(out.ipChecksumValid());
  EXPECT_TRUE(out.l4ChecksumValid());
  EXPECT_EQ(counter(PETREL_MASQUERADED, METRIC_DIR_EGRESS), out_before + 1);

  // The rest of the flow keeps its port.
  auto ack = egress(fromPod(kPodB.ip, kOutside).tcp(40000, 443, 0x10).build());
  EXPECT_EQ(PacketView{ack.out}.sport(), port);

  uint64_t in_before = counter(PETREL_UNMASQUERADED, METRIC_DIR_INGRESS);
  auto reply = ingress(toNode(kOutside).tcp(443, port, 0x12).payload("yz").build());
  EXPECT_EQ(reply.verdict, TC_ACT_REDIRECT);  // straight into the pod
  PacketView back{reply.out};
  EXPECT_EQ(back.ipSrc(), kOutside);
  EXPECT_EQ(back.ipDst(), kPodB.ip);
  EXPECT_EQ(back.dport(), 40000);
  EXPECT_EQ(back.sport(), 443);
  EXPECT_EQ(back.ethDst(), mac(kPodB.pod_mac));
  EXPECT_EQ(back.ttl(), 59);
  EXPECT_TRUE(back.ipChecksumValid());
  EXPECT_TRUE(back.l4ChecksumValid());
  EXPECT_EQ(counter(PETREL_UNMASQUERADED, METRIC_DIR_INGRESS), in_before + 1);
  EXPECT_EQ(natEntries(), 2u);  // one per direction
}

TEST_F(NatProgramTest, UdpAndIcmpEchoAreTranslatedBothWays) {
  auto query = egress(fromPod(kPodA.ip, kOutside).udp(5353, 53).payload("q").build());
  ASSERT_EQ(query.verdict, TC_ACT_OK);
  PacketView q{query.out};
  EXPECT_EQ(q.ipSrc(), kNodeIp);
  EXPECT_TRUE(q.l4ChecksumValid());
  auto answer = ingress(toNode(kOutside).udp(53, q.sport()).payload("a").build());
  PacketView a{answer.out};
  EXPECT_EQ(a.ipDst(), kPodA.ip);
  EXPECT_EQ(a.dport(), 5353);
  EXPECT_TRUE(a.l4ChecksumValid());

  auto ping = egress(fromPod(kPodA.ip, kOutside).icmpEcho(77, 1).build());
  ASSERT_EQ(ping.verdict, TC_ACT_OK);
  PacketView p{ping.out};
  EXPECT_EQ(p.ipSrc(), kNodeIp);
  EXPECT_GE(p.sport(), kPortMin);  // the echo identifier is the allocated "port"
  EXPECT_TRUE(p.l4ChecksumValid());
  auto pong = ingress(toNode(kOutside).icmpEcho(p.sport(), 1, 0).build());
  PacketView r{pong.out};
  EXPECT_EQ(r.ipDst(), kPodA.ip);
  EXPECT_EQ(r.sport(), 77);
  EXPECT_TRUE(r.l4ChecksumValid());
  EXPECT_TRUE(r.ipChecksumValid());
}

TEST_F(NatProgramTest, InClusterAndNodeTrafficIsLeftAlone) {
  uint64_t before = counter(PETREL_MASQUERADED, METRIC_DIR_EGRESS);
  for (const auto& [src, dst] : std::vector<std::pair<std::string, std::string>>{
           {kPodA.ip, "10.201.5.9"},  // a pod on another node
           {kPodA.ip, kPodB.ip},      // a pod on this node
           {kNodeIp, kOutside},       // the node itself
       }) {
    auto frame = fromPod(src, dst).tcp(40000, 80).build();
    auto r = egress(frame);
    EXPECT_EQ(r.verdict, TC_ACT_OK) << src << " -> " << dst;
    EXPECT_EQ(r.out, frame) << src << " -> " << dst;
  }
  // Traffic to the node that no translated flow owns: the node's own connections.
  auto frame = toNode(kOutside).tcp(443, kPortMin + 5, 0x12).build();
  auto r = ingress(frame);
  EXPECT_EQ(r.verdict, TC_ACT_OK);
  EXPECT_EQ(r.out, frame);
  EXPECT_EQ(counter(PETREL_MASQUERADED, METRIC_DIR_EGRESS), before);
  EXPECT_EQ(natEntries(), 0u);

  dp_->natConfig().masquerade = 0;
  auto off = fromPod(kPodA.ip, kOutside).tcp(40000, 80).build();
  EXPECT_EQ(egress(off).out, off);
}

TEST_F(NatProgramTest, AnswersWithinFlowsOpenedFromOutsideKeepThePodAddress) {
  // TCP: the pod's SYN-ACK to a client outside is an answer, not a new flow.
  auto synack = fromPod(kPodB.ip, kOutside).tcp(8080, 50000, 0x12).build();
  EXPECT_EQ(egress(synack).out, synack);
  // ICMP: an echo reply likewise.
  auto pong = fromPod(kPodB.ip, kOutside).icmpEcho(9, 1, 0).build();
  EXPECT_EQ(egress(pong).out, pong);
  // UDP: the inbound datagram is remembered, so the answer keeps the pod's address.
  auto in = PacketBuilder()
                .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
                .ipv4(kOutside, kPodB.ip)
                .udp(50001, 9001)
                .payload("ping")
                .build();
  EXPECT_EQ(ingress(in).verdict, TC_ACT_OK);
  auto answer = fromPod(kPodB.ip, kOutside).udp(9001, 50001).payload("ping").build();
  EXPECT_EQ(egress(answer).out, answer);
  EXPECT_EQ(counter(PETREL_MASQUERADED, METRIC_DIR_EGRESS), 0u);
}

TEST_F(NatProgramTest, PortsRunningOutIsACountedDropNotACorruptedFlow) {
  dp_->natConfig().port_max = kPortMin + 1;  // two ports
  std::set<uint16_t> ports;
  for (uint16_t sport : {40001, 40002}) {
    auto r = egress(fromPod(kPodB.ip, kOutside).tcp(sport, 443).build());
    ASSERT_EQ(r.verdict, TC_ACT_OK);
    ports.insert(PacketView{r.out}.sport());
  }
  EXPECT_EQ(ports, (std::set<uint16_t>{kPortMin, kPortMin + 1}));
  uint64_t drops = counter(PETREL_DROP_NAT_NO_PORT, METRIC_DIR_EGRESS);
  auto third = egress(fromPod(kPodB.ip, kOutside).tcp(40003, 443).build());
  EXPECT_EQ(third.verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_NAT_NO_PORT, METRIC_DIR_EGRESS), drops + 1);
  // Ports are per destination: another port on the same server still has room.
  EXPECT_EQ(egress(fromPod(kPodB.ip, kOutside).tcp(40003, 80).build()).verdict, TC_ACT_OK);
  // The established flows are untouched.
  auto again = egress(fromPod(kPodB.ip, kOutside).tcp(40001, 443, 0x10).build());
  EXPECT_EQ(again.verdict, TC_ACT_OK);
  EXPECT_TRUE(ports.count(PacketView{again.out}.sport()));
}

TEST_F(NatProgramTest, AnIdleFlowsPortIsTakenOverAndItsOldEntryRemoved) {
  dp_->natConfig().port_max = kPortMin;       // one port
  dp_->natConfig().udp_timeout_ns = 1000000;  // 1 ms
  auto first = egress(fromPod(kPodA.ip, kOutside).udp(1111, 53).build());
  ASSERT_EQ(first.verdict, TC_ACT_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto second = egress(fromPod(kPodB.ip, kOutside).udp(2222, 53).build());
  ASSERT_EQ(second.verdict, TC_ACT_OK);
  EXPECT_EQ(PacketView{second.out}.sport(), kPortMin);
  EXPECT_EQ(natEntries(), 2u);  // the first flow's two entries are gone, the second's remain
  auto reply = ingress(toNode(kOutside).udp(53, kPortMin).build());
  EXPECT_EQ(PacketView{reply.out}.ipDst(), kPodB.ip);
}

TEST_F(NatProgramTest, PacketsThatCannotBeTranslatedAreDroppedWithAReason) {
  uint64_t before = counter(PETREL_DROP_NAT_UNSUPPORTED, METRIC_DIR_EGRESS);
  auto fragment = fromPod(kPodA.ip, kOutside).udp(1, 2).payload("abc").moreFragments().build();
  EXPECT_EQ(egress(fragment).verdict, TC_ACT_SHOT);
  auto truncated = fromPod(kPodA.ip, kOutside).tcp(40000, 80).build();
  truncated.resize(14 + 20 + 10);
  EXPECT_EQ(egress(truncated).verdict, TC_ACT_SHOT);
  auto other = fromPod(kPodA.ip, kOutside).build();  // IP protocol 253
  EXPECT_EQ(egress(other).verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_NAT_UNSUPPORTED, METRIC_DIR_EGRESS), before + 3);
  EXPECT_EQ(natEntries(), 0u);
  // Hostile input toward the node is the stack's to judge: passed unchanged.
  auto short_in = toNode(kOutside).udp(53, kPortMin).build();
  short_in.resize(14 + 20 + 4);
  EXPECT_EQ(ingress(short_in).verdict, TC_ACT_OK);
}

// An ICMP error about a masqueraded packet (here "fragmentation needed" from a router on the
// way) reaches the pod that sent it, its quote translated back, so path MTU discovery works
// through the NAT. Errors about nothing translated are the node's own.
TEST_F(NatProgramTest, IcmpErrorsAboutMasqueradedPacketsGoBackToThePod) {
  auto sent = egress(fromPod(kPodB.ip, kOutside).udp(5353, 53).payload("big").build());
  ASSERT_EQ(sent.verdict, TC_ACT_OK);
  // The router quotes the packet as it saw it: the node's address and port.
  std::vector<uint8_t> quote(sent.out.begin() + 14, sent.out.begin() + 14 + 28);
  auto error_from = [&](const std::vector<uint8_t>& quoted) {
    return toNode("203.0.113.1").icmpError(3, 4, quoted, 1400).build();  // fragmentation needed
  };
  const uint64_t before = counter(PETREL_UNMASQUERADED, METRIC_DIR_INGRESS);
  auto r = ingress(error_from(quote));
  ASSERT_EQ(r.verdict, TC_ACT_REDIRECT);  // into the pod
  PacketView v{r.out};
  EXPECT_EQ(v.ipDst(), kPodB.ip);
  EXPECT_EQ(v.ipSrc(), "203.0.113.1");
  EXPECT_TRUE(v.ipChecksumValid());
  EXPECT_TRUE(v.l4ChecksumValid());  // the ICMP checksum over the patched quote
  auto quoted = v.icmpQuote();
  PacketView inner{quoted};
  EXPECT_TRUE(inner.ipChecksumValid()) << "the quoted IP header's checksum";
  EXPECT_EQ(inner.ipSrc(), kPodB.ip);
  EXPECT_EQ(inner.sport(), 5353);  // the pod's own port
  EXPECT_EQ(counter(PETREL_UNMASQUERADED, METRIC_DIR_INGRESS), before + 1);

  // An error about a port nothing was given: left to the node's stack, untouched.
  auto other = quote;
  other[20] = 0x9c;  // source port 40000, not in the range
  other[21] = 0x40;
  auto unrelated = error_from(other);
  auto u = ingress(unrelated);
  EXPECT_EQ(u.verdict, TC_ACT_OK);
  EXPECT_EQ(u.out, unrelated);
}

// A pod's ICMP error about a packet it received leaves as that flow's answers do: with the
// node's address and port in a masqueraded flow, unchanged in a flow opened from outside.
TEST_F(NatProgramTest, APodsIcmpErrorsLeaveAsTheirFlowsAnswers) {
  auto sent = egress(fromPod(kPodB.ip, kOutside).udp(5353, 53).payload("q").build());
  ASSERT_EQ(sent.verdict, TC_ACT_OK);
  const uint16_t node_port = PacketView{sent.out}.sport();
  // The pod refuses the answer (port unreachable), quoting it as it arrived: outside -> pod.
  auto answer = PacketBuilder()
                    .eth(mac("02:00:00:00:00:01"), mac(kPodB.pod_mac))
                    .ipv4(kOutside, kPodB.ip, 60)
                    .udp(53, 5353)
                    .payload("a")
                    .build();
  std::vector<uint8_t> quote(answer.begin() + 14, answer.begin() + 14 + 28);
  const uint64_t before = counter(PETREL_MASQUERADED, METRIC_DIR_EGRESS);
  auto r = egress(fromPod(kPodB.ip, kOutside).icmpError(3, 3, quote).build());
  ASSERT_EQ(r.verdict, TC_ACT_OK);
  PacketView v{r.out};
  EXPECT_EQ(v.ipSrc(), kNodeIp);
  EXPECT_TRUE(v.ipChecksumValid());
  EXPECT_TRUE(v.l4ChecksumValid());
  auto quoted = v.icmpQuote();
  PacketView q{quoted};
  EXPECT_TRUE(q.ipChecksumValid());
  EXPECT_EQ(q.ipDst(), kNodeIp);  // what the outside sent to
  EXPECT_EQ(q.dport(), node_port);
  EXPECT_EQ(q.ipSrc(), kOutside);
  EXPECT_EQ(counter(PETREL_MASQUERADED, METRIC_DIR_EGRESS), before + 1);

  // About a flow nobody translated (opened from outside): out as it is, not dropped.
  auto other = quote;
  other[20] = 0x1f;  // quoted source port 8080
  other[21] = 0x90;
  auto unrelated = fromPod(kPodB.ip, kOutside).icmpError(3, 3, other).build();
  auto u = egress(unrelated);
  EXPECT_EQ(u.verdict, TC_ACT_OK);
  EXPECT_EQ(u.out, unrelated);
}

// A full NAT map (docs/decisions.md, "Full maps"): made a tiny plain hash, which refuses an insert
// whenever it is full (the real LRU refuses only when it finds nothing to evict).
class NatFullMapTest : public NatProgramTest {
 protected:
  datapath::LoadOptions loadOptions() const override {
    datapath::LoadOptions o;
    o.map_resizes = {{PETREL_MAP_NAT, 3, BPF_MAP_TYPE_HASH}};  // one flow and a half
    return o;
  }
};

TEST_F(NatFullMapTest, AFlowTheMapRefusesIsDroppedAsMapFullNotAsPortsExhausted) {
  auto first = egress(fromPod(kPodB.ip, kOutside).tcp(40001, 443).build());
  ASSERT_EQ(first.verdict, TC_ACT_OK);  // two entries
  const uint16_t port = PacketView{first.out}.sport();
  const uint64_t full = counter(PETREL_DROP_NAT_MAP_FULL, METRIC_DIR_EGRESS);
  const uint64_t no_port = counter(PETREL_DROP_NAT_NO_PORT, METRIC_DIR_EGRESS);
  // Its reply entry fits, its egress entry does not: dropped, and the port given back.
  EXPECT_EQ(egress(fromPod(kPodB.ip, kOutside).tcp(40002, 443).build()).verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_NAT_MAP_FULL, METRIC_DIR_EGRESS), full + 1);
  EXPECT_EQ(counter(PETREL_DROP_NAT_NO_PORT, METRIC_DIR_EGRESS), no_port);
  EXPECT_EQ(natEntries(), 2u);
  // The established flow goes on.
  auto again = egress(fromPod(kPodB.ip, kOutside).tcp(40001, 443, 0x10).build());
  EXPECT_EQ(again.verdict, TC_ACT_OK);
  EXPECT_EQ(PacketView{again.out}.sport(), port);
}

// UDP from outside to a pod must be remembered, or the pod's answers would leave masqueraded:
// one that cannot be is dropped.
TEST_F(NatFullMapTest, InboundUdpThatCannotBeRememberedIsDropped) {
  ASSERT_EQ(egress(fromPod(kPodB.ip, kOutside).tcp(40001, 443).build()).verdict, TC_ACT_OK);
  auto inbound = [&](uint16_t sport) {
    return ingress(PacketBuilder()
                       .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
                       .ipv4(kOutside, kPodA.ip, 60)
                       .udp(sport, 9001)
                       .payload("q")
                       .build());
  };
  EXPECT_EQ(inbound(5000).verdict, TC_ACT_OK);  // the third entry
  const uint64_t full = counter(PETREL_DROP_NAT_MAP_FULL, METRIC_DIR_INGRESS);
  EXPECT_EQ(inbound(5001).verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_NAT_MAP_FULL, METRIC_DIR_INGRESS), full + 1);
  EXPECT_EQ(inbound(5000).verdict, TC_ACT_OK);  // a remembered flow goes on
}

}  // namespace
}  // namespace petrel::bpftest
