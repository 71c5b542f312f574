// BPF program tests for packet-level Service translation (traffic from outside to a NodePort):
// the uplink ingress program picks a backend and records the connection; a local backend gets
// the packet in its pod with the client's address kept and its answer leaves (lxc program) with
// the frontend's address; a backend on another node gets the packet from the node's address
// and its answer, back at the uplink, goes to the client from the frontend. Established
// connections keep their backend when the Service changes, and an answered one is kept by the
// garbage collector however quiet; what no backend can take gets a reset or port unreachable
// (from the datapath at an externalIP, from the stack at the node's address), or is dropped
// when policy Local leaves the node without endpoints. A full conntrack map drops a new
// connection (counted), a full LRU one evicts; a full affinity map serves the client without
// affinity (counted). The tests run in their own network namespace whose routes and neighbours
// make the FIB forwarding deterministic.
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "agent/datapath/flow_gc.h"
#include "agent/datapath/lb_datapath.h"
#include "agent/datapath/map_pressure.h"
#include "common/unique_fd.h"
#include "reasons.h"
#include "test/bpf/packet_builder.h"
#include "test/bpf/program_fixture.h"
#include "test/bpf/test_netns.h"

namespace petrel::bpftest {
namespace {

constexpr const char* kNodeIp = "192.168.50.10";
constexpr const char* kClient = "198.51.100.7";
constexpr const char* kRemoteBackend = "10.201.5.9";
constexpr const char* kUnresolvedBackend = "10.202.5.9";  // its next hop has no neighbour entry
constexpr uint16_t kNodePort = 30080;
constexpr const char* kExternalIp = "203.0.113.10";  // a frontend that is not the node's address
// The test device's (loopback's) own MAC: a frame to it is PACKET_HOST, one to another MAC is
// what a device in promiscuous mode sees of other hosts' traffic.
constexpr const char* kOwnMac = "00:00:00:00:00:00";
// Local backends besides kPodA and kPodB; test runs need no host veths behind them.
const TestEndpoint kPodC{"10.200.0.4", 4243, "0a:00:00:00:00:04", "0e:00:00:00:00:04"};
const TestEndpoint kPodD{"10.200.0.5", 4244, "0a:00:00:00:00:05", "0e:00:00:00:00:05"};

using namespace std::chrono_literals;
// A duration as the nanoseconds the datapath's clock counts.
uint64_t ns(std::chrono::nanoseconds d) {
  return static_cast<uint64_t>(d.count());
}

// The frontend setBackends writes: by default TCP at the node's address, port kNodePort.
struct Frontend {
  uint8_t proto = core::kProtoTcp;
  bool affinity = false;
  const char* ip = kNodeIp;
  core::LbKind kind = core::LbKind::kNodePort;
  bool remote_only = false;
};

class ServiceXlateTest : public ProgramTest {
 protected:
  void SetUp() override {
    // A namespace with the node's address on a veth, a default route and known neighbours.
    ASSERT_TRUE(netns_.enter(
        "svc", {std::string("addr add ") + kNodeIp + "/24 dev up0",
                "route add default via 192.168.50.1", "route add 10.201.0.0/16 via 192.168.50.11",
                "neigh add 192.168.50.1 lladdr 02:00:00:00:00:01 dev up0 nud permanent",
                "neigh add 192.168.50.11 lladdr 02:00:00:00:00:11 dev up0 nud permanent",
                "route add 10.202.0.0/16 via 192.168.50.12"}));
    std::ofstream("/proc/sys/net/ipv4/ip_forward") << "1";
    ProgramTest::SetUp();
    if (HasFatalFailure()) return;
    configureUplink(kNodeIp);
    lb_ = std::make_unique<datapath::BpfLbDatapath>(dp_->lbServices(), dp_->lbBackends());
  }
  void TearDown() override {
    lb_.reset();
    ProgramTest::TearDown();
    netns_.leave();
  }
  void setBackends(const std::vector<std::pair<std::string, uint16_t>>& backends,
                   const Frontend& f = {}) {
    core::LbService s;
    s.service = "default/web";
    s.port_name = "http";
    s.kind = f.kind;
    s.affinity = f.affinity;
    s.remote_only = f.remote_only;
    for (const auto& [ip, port] : backends) {
      core::LbBackend b;
      b.ip = *Ipv4Addr::parse(ip);
      b.port = port;
      s.backends.push_back(b);
    }
    auto st = lb_->apply({{{*Ipv4Addr::parse(f.ip), kNodePort, f.proto}, s}});
    ASSERT_TRUE(st.isOk()) << st.toString();
  }
  // The remote backend's answer to the node's translated port `nat_port`.
  std::vector<uint8_t> fromRemoteBackend(uint16_t nat_port) {
    return PacketBuilder()
        .eth(mac("02:00:00:00:00:11"), mac("02:00:00:00:00:02"))
        .ipv4(kRemoteBackend, kNodeIp, 62)
        .tcp(8080, nat_port, 0x12)
        .payload("answer")
        .build();
  }
  // An answer on its way back to the client, from the frontend.
  void expectToClientFromFrontend(const PacketView& a) {
    EXPECT_EQ(a.ipSrc(), kNodeIp);
    EXPECT_EQ(a.sport(), kNodePort);
    EXPECT_EQ(a.ipDst(), kClient);
    EXPECT_EQ(a.dport(), 50000);
    EXPECT_TRUE(a.ipChecksumValid());
    EXPECT_TRUE(a.l4ChecksumValid());
  }
  std::vector<uint8_t> fromClient(uint8_t tcp_flags, uint16_t sport = 50000) {
    return PacketBuilder()
        .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
        .ipv4(kClient, kNodeIp, 60)
        .tcp(sport, kNodePort, tcp_flags)
        .payload("req")
        .build();
  }
  RunResult uplinkIngress(const std::vector<uint8_t>& frame) {
    return run(frame, dp_->uplinkIngressFd());
  }
  // Runs the uplink's XDP program on `frame` as if it arrived on the node's uplink (up0).
  RunResult uplinkXdp(const std::vector<uint8_t>& frame) {
    RunResult r;
    r.out.resize(frame.size() + 256);
    xdp_md ctx{};
    ctx.data_end = static_cast<uint32_t>(frame.size());  // the kernel wants the frame's size
    ctx.ingress_ifindex = if_nametoindex("up0");
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = r.out.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()),
                .data_size_out = static_cast<uint32_t>(r.out.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx));
    int err = bpf_prog_test_run_opts(dp_->uplinkXdpFd(), &opts);
    EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN of the XDP program failed: " << strerror(-err);
    r.verdict = static_cast<int>(opts.retval);
    r.out.resize(opts.data_size_out);
    return r;
  }
  Mac uplinkMac() {  // by ioctl: /sys shows the namespace the test started in
    UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq req{};
    std::strncpy(req.ifr_name, "up0", IFNAMSIZ - 1);
    EXPECT_EQ(ioctl(sock.get(), SIOCGIFHWADDR, &req), 0) << strerror(errno);
    Mac m{};
    std::memcpy(m.data(), req.ifr_hwaddr.sa_data, m.size());
    return m;
  }

  // What a router quotes of a packet the program sent: its IP header and 8 bytes.
  static std::vector<uint8_t> quoteOf(const RunResult& r) {
    return std::vector<uint8_t>(r.out.begin() + 14, r.out.begin() + 14 + 28);
  }
  // "Fragmentation needed" from a router outside, to the node, about `quoted`.
  static std::vector<uint8_t> routerError(const std::vector<uint8_t>& quoted) {
    return PacketBuilder()
        .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
        .ipv4("198.51.100.1", kNodeIp, 60)
        .icmpError(3, 4, quoted, 1000)
        .build();
  }
  // An ICMP error whose checksums are valid and whose quote reads src:sport -> dst:dport.
  static void expectIcmpErrorQuoting(const PacketView& v, const std::string& src, uint16_t sport,
                                     const std::string& dst, uint16_t dport) {
    EXPECT_TRUE(v.ipChecksumValid());
    EXPECT_TRUE(v.l4ChecksumValid());  // the ICMP checksum over the patched quote
    auto quoted = v.icmpQuote();
    PacketView q{quoted};
    EXPECT_TRUE(q.ipChecksumValid()) << "the quoted IP header's checksum";
    EXPECT_EQ(q.ipSrc(), src);
    EXPECT_EQ(q.sport(), sport);
    EXPECT_EQ(q.ipDst(), dst);
    EXPECT_EQ(q.dport(), dport);
  }

  TestNetns netns_;
  std::unique_ptr<datapath::BpfLbDatapath> lb_;
};

TEST_F(ServiceXlateTest, LocalBackendKeepsTheClientAddressAndAnswersFromTheFrontend) {
  setBackends({{kPodA.ip, 8080}});
  auto in = uplinkIngress(fromClient(0x02));
  ASSERT_EQ(in.verdict, TC_ACT_REDIRECT);  // straight into the pod
  PacketView v{in.out};
  EXPECT_EQ(v.ipSrc(), kClient);  // the client's address is kept
  EXPECT_EQ(v.ipDst(), kPodA.ip);
  EXPECT_EQ(v.dport(), 8080);
  EXPECT_EQ(v.ethDst(), mac(kPodA.pod_mac));
  EXPECT_TRUE(v.ipChecksumValid());
  EXPECT_TRUE(v.l4ChecksumValid());

  uint64_t replies = counter(PETREL_LB_REPLIED, METRIC_DIR_EGRESS);
  auto answer = PacketBuilder()
                    .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                    .ipv4(kPodA.ip, kClient, 64)
                    .tcp(8080, 50000, 0x12)
                    .build();
  auto out = run(answer);                   // the lxc program, as the pod's answer leaves it
  EXPECT_EQ(out.verdict, TC_ACT_REDIRECT);  // forwarded by the FIB, not to the stack
  PacketView a{out.out};
  EXPECT_EQ(a.ipSrc(), kNodeIp);
  EXPECT_EQ(a.sport(), kNodePort);
  EXPECT_EQ(a.ipDst(), kClient);
  EXPECT_EQ(a.ethDst(), mac("02:00:00:00:00:01"));  // the default gateway
  EXPECT_TRUE(a.ipChecksumValid());
  EXPECT_TRUE(a.l4ChecksumValid());
  EXPECT_EQ(counter(PETREL_LB_REPLIED, METRIC_DIR_EGRESS), replies + 1);
}

TEST_F(ServiceXlateTest, RemoteBackendGetsTheNodeAddressAndItsAnswerGoesBackToTheClient) {
  setBackends({{kRemoteBackend, 8080}});
  auto in = uplinkIngress(fromClient(0x02));
  ASSERT_EQ(in.verdict, TC_ACT_REDIRECT);
  PacketView v{in.out};
  EXPECT_EQ(v.ipSrc(), kNodeIp);  // source NAT: the answer must come back through this node
  EXPECT_EQ(v.ipDst(), kRemoteBackend);
  EXPECT_EQ(v.dport(), 8080);
  EXPECT_EQ(v.ethDst(), mac("02:00:00:00:00:11"));  // toward the backend's node
  EXPECT_TRUE(v.l4ChecksumValid());
  const uint16_t nat_port = v.sport();
  EXPECT_GE(nat_port, 61000);

  auto out = uplinkIngress(fromRemoteBackend(nat_port));
  EXPECT_EQ(out.verdict, TC_ACT_REDIRECT);
  expectToClientFromFrontend(PacketView{out.out});
}

// Established connections keep their backend when the Service's backends change, as long as it
// remains (conntrack decides, not the choice for new connections: without Maglev that choice is
// random, so a connection would move with probability 2/3). A connection to the removed backend
// stays on it too, until the agent forgets it (ARemovedBackendsForgottenConnectionsGetAReset).
// New connections spread over the new backends.
TEST_F(ServiceXlateTest, EstablishedConnectionsKeepTheirBackendWhenTheBackendsChange) {
  addEndpoint(kPodC);
  addEndpoint(kPodD);
  auto backendOf = [&](uint8_t tcp_flags, uint16_t sport) {
    auto r = uplinkIngress(fromClient(tcp_flags, sport));
    EXPECT_EQ(r.verdict, TC_ACT_REDIRECT) << "sport " << sport;
    return PacketView{r.out}.ipDst();
  };
  setBackends({{kPodA.ip, 8080}, {kPodB.ip, 8080}, {kPodC.ip, 8080}});
  std::map<uint16_t, std::string> held;
  std::set<std::string> used;
  for (uint16_t sport = 42000; sport < 42060; ++sport) {
    held[sport] = backendOf(0x02, sport);
    used.insert(held[sport]);
  }
  ASSERT_EQ(used, (std::set<std::string>{kPodA.ip, kPodB.ip, kPodC.ip}));

  // C goes, D comes, and A and B are listed in other places.
  setBackends({{kPodD.ip, 8080}, {kPodB.ip, 8080}, {kPodA.ip, 8080}});
  for (const auto& [sport, backend] : held) {
    EXPECT_EQ(backendOf(0x10, sport), backend) << "the connection from port " << sport << " moved";
  }
  std::set<std::string> fresh;
  for (uint16_t sport = 43000; sport < 43060; ++sport) fresh.insert(backendOf(0x02, sport));
  EXPECT_EQ(fresh, (std::set<std::string>{kPodA.ip, kPodB.ip, kPodD.ip}));
}

// The garbage collector gives a connection whose backend answered the established timeout (the
// README's 6 h), not the unanswered one (60 s), although only the reply entry carries the mark:
// an idle NodePort connection (a long poll, a quiet keep-alive) must not be reset after a minute.
TEST_F(ServiceXlateTest, AnAnsweredConnectionOutlivesTheUnansweredTimeout) {
  setBackends({{kPodA.ip, 8080}});
  ASSERT_EQ(uplinkIngress(fromClient(0x02)).verdict, TC_ACT_REDIRECT);
  auto answer = PacketBuilder()
                    .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                    .ipv4(kPodA.ip, kClient, 64)
                    .tcp(8080, 50000, 0x12)
                    .build();
  ASSERT_EQ(run(answer).verdict, TC_ACT_REDIRECT);
  ASSERT_EQ(uplinkIngress(fromClient(0x02, 50001)).verdict, TC_ACT_REDIRECT);  // never answered
  ASSERT_EQ(dp_->conntrack().keys()->size(), 4u);

  const uint64_t later = datapath::monotonicNowNs() + ns(6h - 1min);
  auto gc = datapath::collectIdleFlows(dp_->conntrack(), dp_->nat(), later);
  ASSERT_TRUE(gc) << gc.status().toString();
  EXPECT_EQ(gc->ct_deleted, 2u);  // both entries of the unanswered connection
  EXPECT_EQ(gc->ct_kept, 2u);
  auto ack = uplinkIngress(fromClient(0x10));
  EXPECT_EQ(ack.verdict, TC_ACT_REDIRECT);  // still translated, not left to the stack's reset
  EXPECT_EQ(PacketView{ack.out}.ipDst(), kPodA.ip);
}

// A connection closed from one side only (the client's FIN, the backend still answering) keeps
// its entries for the half-closed timeout (the README's 2 min); once both sides closed they go
// after the closing one (10 s).
TEST_F(ServiceXlateTest, AHalfClosedConnectionKeepsItsEntriesUntilBothSidesClosed) {
  setBackends({{kPodA.ip, 8080}});
  ASSERT_EQ(uplinkIngress(fromClient(0x02)).verdict, TC_ACT_REDIRECT);
  auto fromPod = [](uint8_t flags) {
    return PacketBuilder()
        .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
        .ipv4(kPodA.ip, kClient, 64)
        .tcp(8080, 50000, flags)
        .build();
  };
  ASSERT_EQ(run(fromPod(0x12)).verdict, TC_ACT_REDIRECT);
  ASSERT_EQ(uplinkIngress(fromClient(0x11)).verdict, TC_ACT_REDIRECT);  // the client's FIN
  const uint64_t later = datapath::monotonicNowNs() + ns(2min - 5s);
  auto half = datapath::collectIdleFlows(dp_->conntrack(), dp_->nat(), later);
  ASSERT_TRUE(half) << half.status().toString();
  EXPECT_EQ(half->ct_kept, 2u);
  ASSERT_EQ(run(fromPod(0x11)).verdict, TC_ACT_REDIRECT);  // the backend's FIN
  auto both = datapath::collectIdleFlows(dp_->conntrack(), dp_->nat(), later);
  ASSERT_TRUE(both) << both.status().toString();
  EXPECT_EQ(both->ct_deleted, 2u);
  EXPECT_EQ(both->ct_kept, 0u);
}

// A TCP segment to a frontend at `dst`, from kClient:`sport`, to the Ethernet address `dst_mac`.
std::vector<uint8_t> segmentTo(const char* dst, uint16_t sport, uint8_t flags, uint32_t seq,
                               uint32_t ack, const std::string& payload,
                               const char* dst_mac = kOwnMac, const char* src = kClient) {
  return PacketBuilder()
      .eth(mac("02:00:00:00:00:01"), mac(dst_mac))
      .ipv4(src, dst, 60)
      .tcp(sport, kNodePort, flags)
      .tcpSeq(seq, ack)
      .payload(payload)
      .build();
}

// At an externalIP (not the node's address: the stack would forward the packet on) what no
// backend can take is answered from the frontend, back out of the device it came in on, as the
// stack answers a closed port: a reset for TCP (RFC 9293: acknowledging a segment without ACK,
// else with its ACK number as sequence number), never a reset for a reset, ICMP port
// unreachable for UDP. Frames for other hosts and non-unicast sources are not answered.
TEST_F(ServiceXlateTest, WhatNoBackendCanTakeAtAnExternalIpIsRejectedFromIt) {
  const uint64_t rejected = counter(PETREL_LB_REJECTED, METRIC_DIR_INGRESS);
  auto segment = [](uint16_t sport, uint8_t flags, uint32_t seq, uint32_t ack,
                    const std::string& payload) {
    return segmentTo(kExternalIp, sport, flags, seq, ack, payload);
  };
  auto expectReset = [](const RunResult& r, uint16_t client_port, uint8_t flags, uint32_t seq,
                        uint32_t ack) {
    EXPECT_EQ(r.verdict, TC_ACT_REDIRECT);
    PacketView v{r.out};
    ASSERT_EQ(r.out.size(), 54u);  // no payload, no options
    EXPECT_EQ(v.ethDst(), mac("02:00:00:00:00:01"));
    EXPECT_EQ(v.ethSrc(), mac(kOwnMac));
    EXPECT_EQ(v.ipSrc(), kExternalIp);
    EXPECT_EQ(v.ipDst(), kClient);
    EXPECT_EQ(v.ipTotalLength(), 40);
    EXPECT_EQ(v.sport(), kNodePort);
    EXPECT_EQ(v.dport(), client_port);
    EXPECT_EQ(v.tcpFlags(), flags);
    EXPECT_EQ(v.tcpSeq(), seq);
    EXPECT_EQ(v.tcpAck(), ack);
    EXPECT_TRUE(v.ipChecksumValid());
    EXPECT_TRUE(v.l4ChecksumValid());
  };
  const Frontend external{.ip = kExternalIp, .kind = core::LbKind::kExternalIp};

  setBackends({}, external);
  // A SYN carrying 3 bytes: RST+ACK of both.
  expectReset(uplinkIngress(segment(50000, 0x02, 1000, 0, "req")), 50000, 0x14, 0, 1004);
  // A FIN with ACK (its backend was removed): RST with the ACK number as sequence number.
  expectReset(uplinkIngress(segment(50001, 0x11, 5000, 777777, "bye")), 50001, 0x04, 777777, 0);
  // A reset is dropped, not answered.
  EXPECT_EQ(uplinkIngress(segment(50002, 0x14, 5000, 1, "")).verdict, TC_ACT_SHOT);
  // Not answered, left to the stack (which drops them): another host's frame, seen in
  // promiscuous mode, and sources that are not unicast.
  for (const auto& frame : {segmentTo(kExternalIp, 50003, 0x02, 1, 0, "", "02:00:00:00:00:02"),
                            segmentTo(kExternalIp, 50003, 0x02, 1, 0, "", kOwnMac, "0.0.0.0"),
                            segmentTo(kExternalIp, 50003, 0x02, 1, 0, "", kOwnMac, "127.0.0.1"),
                            segmentTo(kExternalIp, 50003, 0x02, 1, 0, "", kOwnMac, "224.0.0.1")}) {
    auto r = uplinkIngress(frame);
    EXPECT_EQ(r.verdict, TC_ACT_OK);
    EXPECT_EQ(r.out, frame);
  }

  // A segment of no connection known while the frontend has backends.
  setBackends({{kPodA.ip, 8080}}, external);
  expectReset(uplinkIngress(segment(50004, 0x10, 42, 4242, "x")), 50004, 0x04, 4242, 0);
  // A connection whose backend pod is gone.
  ASSERT_EQ(uplinkIngress(segment(50005, 0x02, 1, 0, "")).verdict, TC_ACT_REDIRECT);
  ASSERT_TRUE(dp_->endpoints().remove(datapath::makeEndpointKey(*Ipv4Addr::parse(kPodA.ip))));
  expectReset(uplinkIngress(segment(50005, 0x10, 2, 99, "more")), 50005, 0x04, 99, 0);

  // UDP to a frontend without backends: port unreachable quoting the datagram.
  setBackends({}, {.proto = core::kProtoUdp, .ip = kExternalIp, .kind = core::LbKind::kExternalIp});
  auto datagram = PacketBuilder()
                      .eth(mac("02:00:00:00:00:01"), mac(kOwnMac))
                      .ipv4(kClient, kExternalIp, 60)
                      .udp(50006, kNodePort)
                      .payload("a query longer than what an ICMP error quotes")
                      .build();
  auto u = uplinkIngress(datagram);
  EXPECT_EQ(u.verdict, TC_ACT_REDIRECT);
  ASSERT_EQ(u.out.size(), 14u + 20 + 8 + 28);
  PacketView icmp{u.out};
  EXPECT_EQ(icmp.ethDst(), mac("02:00:00:00:00:01"));
  EXPECT_EQ(icmp.ipSrc(), kExternalIp);
  EXPECT_EQ(icmp.ipDst(), kClient);
  EXPECT_EQ(icmp.ipProtocol(), 1);
  EXPECT_EQ(icmp.icmpType(), 3);
  EXPECT_EQ(icmp.icmpCode(), 3);
  EXPECT_TRUE(icmp.ipChecksumValid());
  EXPECT_TRUE(icmp.l4ChecksumValid());
  auto quote = icmp.icmpQuote();
  EXPECT_TRUE(std::equal(quote.begin() + 14, quote.end(), datagram.begin() + 14))
      << "the datagram's IP header and first 8 bytes, unchanged";
  EXPECT_EQ(counter(PETREL_LB_REJECTED, METRIC_DIR_INGRESS), rejected + 6);
}

// At the node's own address (a NodePort) the stack answers what no backend can take: it resets
// what no socket owns, and a segment of the node's own connection whose local port happens to be
// a NodePort reaches its socket.
TEST_F(ServiceXlateTest, AtTheNodesAddressWhatNoBackendCanTakeIsLeftToTheStack) {
  setBackends({});
  auto syn = segmentTo(kNodeIp, 50000, 0x02, 1, 0, "req");
  auto r = uplinkIngress(syn);
  EXPECT_EQ(r.verdict, TC_ACT_OK);
  EXPECT_EQ(r.out, syn);
  setBackends({{kPodA.ip, 8080}});
  auto syn_ack = segmentTo(kNodeIp, 50001, 0x12, 1, 1, "");  // to the node's own connection
  auto s = uplinkIngress(syn_ack);
  EXPECT_EQ(s.verdict, TC_ACT_OK);
  EXPECT_EQ(s.out, syn_ack);
}

// Port unreachables go out at most as the kernel's icmp_msgs_per_sec and burst allow (1,000 a
// second, 50 at once); the rest are dropped and counted.
TEST_F(ServiceXlateTest, PortUnreachablesAreRateLimited) {
  setBackends({}, {.proto = core::kProtoUdp, .ip = kExternalIp, .kind = core::LbKind::kExternalIp});
  const uint64_t limited = counter(PETREL_DROP_REJECT_RATE, METRIC_DIR_INGRESS);
  int answered = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = uplinkIngress(PacketBuilder()
                               .eth(mac("02:00:00:00:00:01"), mac(kOwnMac))
                               .ipv4(kClient, kExternalIp, 60)
                               .udp(static_cast<uint16_t>(40000 + i), kNodePort)
                               .build());
    if (r.verdict == TC_ACT_REDIRECT) ++answered;
  }
  EXPECT_GE(answered, 50);
  EXPECT_LT(answered, 120);  // 200 runs take well under 70 ms
  EXPECT_EQ(counter(PETREL_DROP_REJECT_RATE, METRIC_DIR_INGRESS), limited + 200 - answered);
}

// Traffic policy Local with endpoints only on other nodes: a new connection is dropped, as
// kube-proxy does, not rejected (a client's retry may reach a node that has one).
TEST_F(ServiceXlateTest, PolicyLocalWithEndpointsOnlyElsewhereDropsNewConnections) {
  const uint64_t dropped = counter(PETREL_DROP_NO_LOCAL_BACKEND, METRIC_DIR_INGRESS);
  setBackends({}, {.remote_only = true});
  EXPECT_EQ(uplinkIngress(segmentTo(kNodeIp, 50000, 0x02, 1, 0, "")).verdict, TC_ACT_SHOT);
  setBackends({}, {.ip = kExternalIp, .kind = core::LbKind::kExternalIp, .remote_only = true});
  EXPECT_EQ(uplinkIngress(segmentTo(kExternalIp, 50000, 0x02, 1, 0, "")).verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_NO_LOCAL_BACKEND, METRIC_DIR_INGRESS), dropped + 2);
}

// When a backend is removed for good the agent forgets its connections (both entries of each);
// their clients' next segments then meet what no backend can take (here, at a NodePort, the
// stack's reset), while other backends' connections go on.
TEST_F(ServiceXlateTest, ARemovedBackendsForgottenConnectionsGetAReset) {
  setBackends({{kPodA.ip, 8080}});
  ASSERT_EQ(PacketView{uplinkIngress(fromClient(0x02, 50000)).out}.ipDst(), kPodA.ip);
  ASSERT_EQ(PacketView{uplinkIngress(fromClient(0x02, 50001)).out}.ipDst(), kPodA.ip);
  setBackends({{kPodB.ip, 8080}});
  ASSERT_EQ(PacketView{uplinkIngress(fromClient(0x02, 50002)).out}.ipDst(), kPodB.ip);
  ASSERT_EQ(dp_->conntrack().keys()->size(), 6u);

  auto forgotten = datapath::forgetConnectionsTo(
      dp_->conntrack(), {{Ipv4Addr::parse(kPodA.ip)->value, uint16_t{8080}, core::kProtoTcp},
                         {Ipv4Addr::parse(kPodB.ip)->value, uint16_t{8080}, core::kProtoUdp}});
  ASSERT_TRUE(forgotten) << forgotten.status().toString();
  EXPECT_EQ(*forgotten, 4u);
  EXPECT_EQ(dp_->conntrack().keys()->size(), 2u);
  auto to_a = uplinkIngress(fromClient(0x10, 50000));
  EXPECT_EQ(to_a.verdict, TC_ACT_OK);
  EXPECT_EQ(PacketView{to_a.out}.ipDst(), kNodeIp) << "not translated to the removed backend";
  EXPECT_EQ(PacketView{uplinkIngress(fromClient(0x10, 50002)).out}.ipDst(), kPodB.ip);
}

TEST_F(ServiceXlateTest, UdpToALocalBackendBothWays) {
  setBackends({{kPodA.ip, 9001}}, {.proto = core::kProtoUdp});
  auto query = PacketBuilder()
                   .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
                   .ipv4(kClient, kNodeIp, 60)
                   .udp(40000, kNodePort)
                   .payload("q")
                   .build();
  auto in = uplinkIngress(query);
  ASSERT_EQ(in.verdict, TC_ACT_REDIRECT);
  EXPECT_EQ(PacketView{in.out}.dport(), 9001);
  EXPECT_TRUE(PacketView{in.out}.l4ChecksumValid());
  auto answer = PacketBuilder()
                    .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                    .ipv4(kPodA.ip, kClient, 64)
                    .udp(9001, 40000)
                    .payload("a")
                    .build();
  PacketView a{run(answer).out};
  EXPECT_EQ(a.ipSrc(), kNodeIp);
  EXPECT_EQ(a.sport(), kNodePort);
  EXPECT_TRUE(a.l4ChecksumValid());
}

// ICMP errors about a connection to a local backend are translated like its packets: one from
// a router about the backend's answer (it quotes frontend -> client) reaches the backend pod,
// and one from the backend pod about what it received (client -> backend) leaves as if the
// frontend sent it. Errors about nothing translated are left alone.
TEST_F(ServiceXlateTest, IcmpErrorsAboutALocalBackendsConnectionAreTranslatedBothWays) {
  setBackends({{kPodA.ip, 8080}});
  auto in = uplinkIngress(fromClient(0x02));
  ASSERT_EQ(in.verdict, TC_ACT_REDIRECT);
  auto answer = run(PacketBuilder()
                        .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                        .ipv4(kPodA.ip, kClient, 64)
                        .tcp(8080, 50000, 0x12)
                        .payload(std::string(1200, 'x'))
                        .build());
  ASSERT_EQ(answer.verdict, TC_ACT_REDIRECT);

  uint64_t to_pod = counter(PETREL_LB_ICMP_ERROR, METRIC_DIR_INGRESS);
  auto r = uplinkIngress(routerError(quoteOf(answer)));
  ASSERT_EQ(r.verdict, TC_ACT_REDIRECT);  // into the backend pod
  PacketView v{r.out};
  EXPECT_EQ(v.ipSrc(), "198.51.100.1");
  EXPECT_EQ(v.ipDst(), kPodA.ip);
  EXPECT_EQ(v.ethDst(), mac(kPodA.pod_mac));
  expectIcmpErrorQuoting(v, kPodA.ip, 8080, kClient, 50000);  // the answer as the pod sent it
  EXPECT_EQ(counter(PETREL_LB_ICMP_ERROR, METRIC_DIR_INGRESS), to_pod + 1);

  uint64_t to_client = counter(PETREL_LB_ICMP_ERROR, METRIC_DIR_EGRESS);
  auto out = run(PacketBuilder()
                     .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                     .ipv4(kPodA.ip, kClient, 64)
                     .icmpError(3, 3, quoteOf(in))  // port unreachable
                     .build());
  ASSERT_EQ(out.verdict, TC_ACT_REDIRECT);  // forwarded by the FIB
  PacketView o{out.out};
  EXPECT_EQ(o.ipSrc(), kNodeIp);  // from the frontend
  EXPECT_EQ(o.ipDst(), kClient);
  EXPECT_EQ(o.ethDst(), mac("02:00:00:00:00:01"));  // the default gateway
  // The client's packet as the client sent it.
  expectIcmpErrorQuoting(o, kClient, 50000, kNodeIp, kNodePort);
  EXPECT_EQ(counter(PETREL_LB_ICMP_ERROR, METRIC_DIR_EGRESS), to_client + 1);

  // About another client port: no connection, so the stack gets it as it came.
  auto other = quoteOf(answer);
  other[22] ^= 0x01;  // the quoted destination port
  auto unrelated = routerError(other);
  auto u = uplinkIngress(unrelated);
  EXPECT_EQ(u.verdict, TC_ACT_OK);
  EXPECT_EQ(u.out, unrelated);
  // A quote cut short inside the ports, or an error quoting an IP header with options: nothing
  // is read past the quote, and the stack gets the packet as it came.
  other = quoteOf(answer);
  other.resize(22);
  auto truncated = routerError(other);
  auto t = uplinkIngress(truncated);
  EXPECT_EQ(t.verdict, TC_ACT_OK);
  EXPECT_EQ(t.out, truncated);
  other = quoteOf(answer);
  other[0] = 0x46;  // IHL 6: the ports are not where an option-less header puts them
  auto with_options = routerError(other);
  auto w = uplinkIngress(with_options);
  EXPECT_EQ(w.verdict, TC_ACT_OK);
  EXPECT_EQ(w.out, with_options);
}

// The same for a backend on another node, behind the node's source NAT: the router's error goes
// on to the backend quoting what it sent (backend -> node:port), and the backend's error (to the
// node's address) goes on to the client quoting what the client sent.
TEST_F(ServiceXlateTest, IcmpErrorsAboutARemoteBackendsConnectionAreTranslatedBothWays) {
  setBackends({{kRemoteBackend, 8080}});
  auto in = uplinkIngress(fromClient(0x02));
  ASSERT_EQ(in.verdict, TC_ACT_REDIRECT);
  const uint16_t nat_port = PacketView{in.out}.sport();
  auto answer = uplinkIngress(fromRemoteBackend(nat_port));
  ASSERT_EQ(answer.verdict, TC_ACT_REDIRECT);

  uint64_t before = counter(PETREL_LB_ICMP_ERROR, METRIC_DIR_INGRESS);
  auto r = uplinkIngress(routerError(quoteOf(answer)));
  ASSERT_EQ(r.verdict, TC_ACT_REDIRECT);
  PacketView v{r.out};
  EXPECT_EQ(v.ipSrc(), "198.51.100.1");
  EXPECT_EQ(v.ipDst(), kRemoteBackend);
  EXPECT_EQ(v.ethDst(), mac("02:00:00:00:00:11"));  // toward the backend's node
  expectIcmpErrorQuoting(v, kRemoteBackend, 8080, kNodeIp, nat_port);

  auto out = uplinkIngress(PacketBuilder()
                               .eth(mac("02:00:00:00:00:11"), mac("02:00:00:00:00:02"))
                               .ipv4(kRemoteBackend, kNodeIp, 62)
                               .icmpError(3, 3, quoteOf(in))  // port unreachable
                               .build());
  ASSERT_EQ(out.verdict, TC_ACT_REDIRECT);
  PacketView o{out.out};
  EXPECT_EQ(o.ipSrc(), kNodeIp);  // from the frontend
  EXPECT_EQ(o.ipDst(), kClient);
  EXPECT_EQ(o.ethDst(), mac("02:00:00:00:00:01"));  // the default gateway
  expectIcmpErrorQuoting(o, kClient, 50000, kNodeIp, kNodePort);
  EXPECT_EQ(counter(PETREL_LB_ICMP_ERROR, METRIC_DIR_INGRESS), before + 2);
}

// sessionAffinity ClientIP at the packet level: every connection from one client address goes
// to one backend, whatever its source port (which Maglev would otherwise hash).
TEST_F(ServiceXlateTest, SessionAffinityKeepsAClientAddressOnOneBackend) {
  setBackends({{kPodA.ip, 8080}, {kPodB.ip, 8080}}, {.affinity = true});
  std::set<std::string> chosen;
  for (uint16_t port = 40000; port < 40030; ++port) {
    auto r = uplinkIngress(fromClient(0x02, port));
    ASSERT_EQ(r.verdict, TC_ACT_REDIRECT);
    chosen.insert(PacketView{r.out}.ipDst());
  }
  EXPECT_EQ(chosen.size(), 1u);
  // Without affinity the same ports spread over both.
  setBackends({{kPodA.ip, 8080}, {kPodB.ip, 8080}});
  chosen.clear();
  for (uint16_t port = 41000; port < 41030; ++port)
    chosen.insert(PacketView{uplinkIngress(fromClient(0x02, port)).out}.ipDst());
  EXPECT_EQ(chosen.size(), 2u);
}

// Maglev: a new connection's backend is a function of its tuple (the same on every node and
// after its conntrack entry is gone), and removing one backend of four moves its connections and
// (almost) no others.
TEST_F(ServiceXlateTest, NewConnectionsFollowTheMaglevTable) {
  addEndpoint(kPodC);
  addEndpoint(kPodD);
  lb_->enableMaglev(dp_->lbMaglevFd(), dp_->maglevTableSize());
  setBackends({{kPodA.ip, 8080}, {kPodB.ip, 8080}, {kPodC.ip, 8080}, {kPodD.ip, 8080}});
  auto choose = [&](uint16_t sport) {
    return PacketView{uplinkIngress(fromClient(0x02, sport)).out}.ipDst();
  };
  auto forget = [&] {
    auto keys = dp_->conntrack().keys();
    ASSERT_TRUE(keys) << keys.status().toString();
    for (const auto& k : *keys) ASSERT_TRUE(dp_->conntrack().remove(k).isOk());
  };
  std::map<uint16_t, std::string> first;
  for (uint16_t sport = 41000; sport < 41080; ++sport) first[sport] = choose(sport);
  std::set<std::string> used;
  for (const auto& [sport, b] : first) used.insert(b);
  EXPECT_EQ(used, (std::set<std::string>{kPodA.ip, kPodB.ip, kPodC.ip, kPodD.ip}));
  forget();
  for (const auto& [sport, b] : first) EXPECT_EQ(choose(sport), b) << "sport " << sport;

  forget();
  setBackends({{kPodA.ip, 8080}, {kPodB.ip, 8080}, {kPodC.ip, 8080}});
  int stayed = 0, moved = 0;
  std::set<std::string> took_over;
  for (const auto& [sport, b] : first) {
    const std::string now = choose(sport);
    if (b == kPodD.ip) {
      took_over.insert(now);
    } else if (now == b) {
      ++stayed;
    } else {
      ++moved;
    }
  }
  // Maglev moves about 0.5 % of the other entries when one of four goes (test/unit/agent/
  // maglev_test.cc); any fallback to a random choice would move two thirds of these.
  EXPECT_LE(moved * 20, stayed + moved)
      << moved << " of " << stayed + moved << " connections of the remaining backends moved";
  EXPECT_EQ(took_over.count(kPodD.ip), 0u) << "a new connection went to the removed backend";
  EXPECT_GE(took_over.size(), 2u) << "the removed backend's connections all went to one";
}

// The XDP fast path: a backend on another node is reached, both ways, with XDP_TX from the
// uplink, with the same conntrack and NAT entries the tc path uses (so tc can carry any packet
// of the connection too).
TEST_F(ServiceXlateTest, XdpSendsRemoteBackendTrafficBothWaysWithXdpTx) {
  setBackends({{kRemoteBackend, 8080}});
  const uint64_t forwarded = counter(PETREL_LB_FORWARDED_XDP, METRIC_DIR_INGRESS);
  const uint64_t replied = counter(PETREL_LB_REPLIED_XDP, METRIC_DIR_INGRESS);
  auto syn = uplinkXdp(fromClient(0x02));
  ASSERT_EQ(syn.verdict, XDP_TX);
  PacketView v{syn.out};
  EXPECT_EQ(v.ipSrc(), kNodeIp);
  EXPECT_EQ(v.ipDst(), kRemoteBackend);
  EXPECT_EQ(v.dport(), 8080);
  EXPECT_EQ(v.ethDst(), mac("02:00:00:00:00:11"));  // the backend's node
  EXPECT_EQ(v.ethSrc(), uplinkMac());
  EXPECT_TRUE(v.ipChecksumValid());
  EXPECT_TRUE(v.l4ChecksumValid());
  const uint16_t nat_port = v.sport();
  EXPECT_GE(nat_port, 61000);
  EXPECT_LE(nat_port, 61099);

  auto full = PacketBuilder()  // a full-size packet fits the uplink as it is
                  .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
                  .ipv4(kClient, kNodeIp, 60)
                  .tcp(50000, kNodePort, 0x10)
                  .payload(std::string(1460, 'x'))
                  .build();
  auto big = uplinkXdp(full);
  ASSERT_EQ(big.verdict, XDP_TX);
  EXPECT_TRUE(PacketView{big.out}.l4ChecksumValid());
  auto ack = uplinkXdp(fromClient(0x10));  // established: the same translation
  ASSERT_EQ(ack.verdict, XDP_TX);
  EXPECT_EQ(PacketView{ack.out}.sport(), nat_port);
  EXPECT_TRUE(PacketView{ack.out}.l4ChecksumValid());
  auto by_tc = uplinkIngress(fromClient(0x10));  // tc agrees on the same connection
  ASSERT_EQ(by_tc.verdict, TC_ACT_REDIRECT);
  EXPECT_EQ(PacketView{by_tc.out}.sport(), nat_port);
  EXPECT_EQ(PacketView{by_tc.out}.ipDst(), kRemoteBackend);

  auto out = uplinkXdp(fromRemoteBackend(nat_port));
  ASSERT_EQ(out.verdict, XDP_TX);
  PacketView a{out.out};
  expectToClientFromFrontend(a);
  EXPECT_EQ(a.ethDst(), mac("02:00:00:00:00:01"));  // the default gateway, toward the client
  EXPECT_EQ(counter(PETREL_LB_FORWARDED_XDP, METRIC_DIR_INGRESS), forwarded + 3);
  EXPECT_EQ(counter(PETREL_LB_REPLIED_XDP, METRIC_DIR_INGRESS), replied + 1);
}

TEST_F(ServiceXlateTest, XdpPatchesUdpChecksumsAndKeepsAbsentOnes) {
  setBackends({{kRemoteBackend, 5353}}, {.proto = core::kProtoUdp});
  auto query = PacketBuilder()
                   .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
                   .ipv4(kClient, kNodeIp, 60)
                   .udp(40000, kNodePort)
                   .payload("query")
                   .build();
  auto r = uplinkXdp(query);
  ASSERT_EQ(r.verdict, XDP_TX);
  PacketView v{r.out};
  ASSERT_NE(r.out[14 + 20 + 6] | r.out[14 + 20 + 7], 0) << "the UDP checksum went missing";
  EXPECT_TRUE(v.l4ChecksumValid());
  EXPECT_TRUE(v.ipChecksumValid());
  EXPECT_EQ(v.dport(), 5353);
  auto no_sum = query;
  no_sum[14 + 20 + 6] = no_sum[14 + 20 + 7] = 0;  // a sender without UDP checksums
  auto n = uplinkXdp(no_sum);
  ASSERT_EQ(n.verdict, XDP_TX);
  EXPECT_EQ(n.out[14 + 20 + 6] | n.out[14 + 20 + 7], 0);
  EXPECT_TRUE(PacketView{n.out}.ipChecksumValid());
}

// What XDP does not finish it passes untouched, and tc carries on with the same connection.
TEST_F(ServiceXlateTest, XdpLeavesLocalBackendsUnresolvedNeighboursAndOtherTrafficToTc) {
  setBackends({{kPodA.ip, 8080}});
  auto syn = fromClient(0x02);
  auto r = uplinkXdp(syn);
  EXPECT_EQ(r.verdict, XDP_PASS);
  EXPECT_EQ(r.out, syn);
  auto in = uplinkIngress(syn);  // tc delivers it into the pod
  ASSERT_EQ(in.verdict, TC_ACT_REDIRECT);
  EXPECT_EQ(PacketView{in.out}.ipDst(), kPodA.ip);

  setBackends({{kUnresolvedBackend, 8080}});
  auto fresh = fromClient(0x02, 50100);
  auto u = uplinkXdp(fresh);
  EXPECT_EQ(u.verdict, XDP_PASS);  // the stack resolves the neighbour (tc: redirect_neigh)
  EXPECT_EQ(u.out, fresh);
  auto t = uplinkIngress(fresh);
  ASSERT_EQ(t.verdict, TC_ACT_REDIRECT);
  EXPECT_EQ(PacketView{t.out}.ipDst(), kUnresolvedBackend);

  setBackends({});
  auto refused = fromClient(0x02, 50200);
  EXPECT_EQ(uplinkXdp(refused).verdict, XDP_PASS);  // no backends: the stack rejects
  auto other = PacketBuilder()
                   .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
                   .ipv4(kClient, kNodeIp, 60)
                   .tcp(50000, 22, 0x02)
                   .build();
  auto o = uplinkXdp(other);
  EXPECT_EQ(o.verdict, XDP_PASS);
  EXPECT_EQ(o.out, other);
  auto truncated = fromClient(0x02);
  truncated.resize(14 + 20 + 8);  // a TCP header cut short
  EXPECT_EQ(uplinkXdp(truncated).verdict, XDP_PASS);
}

// Tunnel mode: the backend's node is reached through the overlay, so XDP wraps the translated
// frame in VXLAN itself (as the overlay device would) toward that node, and sends it with XDP_TX.
TEST_F(ServiceXlateTest, XdpWrapsTrafficToAnotherNodesPodInVxlanInTunnelMode) {
  dp_->natConfig().tunnel_port = htons(8472);
  addTunnel("10.201.0.0", 16, "192.168.50.11");
  setBackends({{kRemoteBackend, 8080}});
  const auto syn = fromClient(0x02);
  auto r = uplinkXdp(syn);
  ASSERT_EQ(r.verdict, XDP_TX);
  constexpr size_t kEncap = 14 + 20 + 8 + 8;
  ASSERT_EQ(r.out.size(), syn.size() + kEncap);
  PacketView outer{r.out};
  EXPECT_EQ(outer.ethDst(), mac("02:00:00:00:00:11"));  // the backend's node
  EXPECT_EQ(outer.ethSrc(), uplinkMac());
  EXPECT_EQ(outer.ipSrc(), kNodeIp);
  EXPECT_EQ(outer.ipDst(), "192.168.50.11");
  EXPECT_TRUE(outer.ipChecksumValid());
  EXPECT_EQ(outer.dport(), 8472);
  EXPECT_GE(outer.sport(), 0xc000);
  EXPECT_EQ((r.out[14 + 20 + 4] << 8 | r.out[14 + 20 + 5]), syn.size() + 16);  // UDP length
  EXPECT_EQ((r.out[14 + 2] << 8 | r.out[14 + 3]), syn.size() + 36);            // outer IP length
  EXPECT_EQ(r.out[14 + 20 + 8], 0x88);  // the VXLAN G and I flags
  EXPECT_EQ(r.out[14 + 20 + 8 + 2] << 8 | r.out[14 + 20 + 8 + 3],
            PETREL_IDENTITY_HOST);                        // GBP: the node's identity
  EXPECT_EQ(r.out[14 + 20 + 8 + 6], PETREL_OVERLAY_VNI);  // the overlay's VNI
  std::vector<uint8_t> inner_bytes(r.out.begin() + kEncap, r.out.end());
  PacketView inner{inner_bytes};
  EXPECT_EQ(inner.ipSrc(), kNodeIp);
  EXPECT_EQ(inner.ipDst(), kRemoteBackend);
  EXPECT_EQ(inner.dport(), 8080);
  EXPECT_TRUE(inner.ipChecksumValid());
  EXPECT_TRUE(inner.l4ChecksumValid());
  EXPECT_EQ(counter(PETREL_LB_FORWARDED_XDP, METRIC_DIR_INGRESS), 1u);

  // The connection's next hop is cached, but only for packets as large as the one it was
  // checked for: a full-size packet would not fit the underlay once wrapped, so the stack gets
  // it (and answers with "fragmentation needed").
  auto full = PacketBuilder()
                  .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
                  .ipv4(kClient, kNodeIp, 60)
                  .tcp(50000, kNodePort, 0x10)
                  .payload(std::string(1460, 'x'))
                  .build();
  auto big = uplinkXdp(full);
  EXPECT_EQ(big.verdict, XDP_PASS);
  EXPECT_EQ(big.out, full);
  EXPECT_EQ(uplinkXdp(fromClient(0x10)).verdict, XDP_TX);  // small ones still go
}

// Full maps (docs/decisions.md, "Full maps"). A plain hash refuses an insert whenever it is
// full; an LRU map does only when it finds nothing to evict, which a test cannot bring about. So
// these make the conntrack or affinity map a tiny plain hash to reach the refusal.
class ServiceXlateFullConntrackTest : public ServiceXlateTest {
 protected:
  datapath::LoadOptions loadOptions() const override {
    datapath::LoadOptions o;
    o.map_resizes = {{PETREL_MAP_CT, 3, BPF_MAP_TYPE_HASH}};  // one connection and a half
    return o;
  }
};

TEST_F(ServiceXlateFullConntrackTest, ANewConnectionTheMapRefusesIsDroppedAndCounted) {
  setBackends({{kPodA.ip, 8080}});
  ASSERT_EQ(uplinkIngress(fromClient(0x02)).verdict, TC_ACT_REDIRECT);  // two entries
  const uint64_t before = counter(PETREL_DROP_CT_MAP_FULL, METRIC_DIR_INGRESS);
  // Its reply entry fits, its client's entry does not: dropped, and no half left behind.
  EXPECT_EQ(uplinkIngress(fromClient(0x02, 50001)).verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_CT_MAP_FULL, METRIC_DIR_INGRESS), before + 1);
  EXPECT_EQ(dp_->conntrack().keys()->size(), 2u);
  // The established connection goes on.
  auto ack = uplinkIngress(fromClient(0x10));
  EXPECT_EQ(ack.verdict, TC_ACT_REDIRECT);
  EXPECT_EQ(PacketView{ack.out}.ipDst(), kPodA.ip);
  // XDP leaves a connection it cannot track to tc, which drops and counts it.
  setBackends({{kRemoteBackend, 8080}});
  EXPECT_EQ(uplinkXdp(fromClient(0x02, 50002)).verdict, XDP_PASS);
  EXPECT_EQ(counter(PETREL_DROP_CT_MAP_FULL, METRIC_DIR_INGRESS), before + 1);
  EXPECT_EQ(uplinkIngress(fromClient(0x02, 50002)).verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_CT_MAP_FULL, METRIC_DIR_INGRESS), before + 2);
}

// The real conntrack map is an LRU: at capacity a new connection is served and the least
// recently used entries go (what the garbage collector normally keeps from happening).
class ServiceXlateSmallLruConntrackTest : public ServiceXlateTest {
 protected:
  datapath::LoadOptions loadOptions() const override {
    datapath::LoadOptions o;
    o.map_resizes = {{PETREL_MAP_CT, 16}};
    return o;
  }
};

TEST_F(ServiceXlateSmallLruConntrackTest, AtCapacityNewConnectionsAreServedAndTheOldestEvicted) {
  setBackends({{kPodA.ip, 8080}});
  const uint64_t refused = counter(PETREL_DROP_CT_MAP_FULL, METRIC_DIR_INGRESS);
  for (uint16_t port = 40000; port < 40020; ++port) {  // 40 entries for 16 places
    ASSERT_EQ(uplinkIngress(fromClient(0x02, port)).verdict, TC_ACT_REDIRECT) << port;
  }
  EXPECT_EQ(counter(PETREL_DROP_CT_MAP_FULL, METRIC_DIR_INGRESS), refused);
  EXPECT_LE(dp_->conntrack().keys()->size(), 16u);
  auto pressure = datapath::readMapPressure(pin_root_);
  ASSERT_TRUE(pressure) << pressure.status().toString();
  auto ct = std::find_if(pressure->begin(), pressure->end(),
                         [](const auto& m) { return m.name == PETREL_MAP_CT; });
  ASSERT_NE(ct, pressure->end());
  EXPECT_EQ(ct->capacity, 16u);
  EXPECT_TRUE(ct->evicts);
  EXPECT_GT(ct->entries, 0u);
}

class ServiceXlateFullAffinityTest : public ServiceXlateTest {
 protected:
  datapath::LoadOptions loadOptions() const override {
    datapath::LoadOptions o;
    o.map_resizes = {{PETREL_MAP_LB_AFFINITY, 1, BPF_MAP_TYPE_HASH}};
    return o;
  }
};

// sessionAffinity is kept where it can be; a client the map has no room for is still served
// (counted), and may get another backend next time.
TEST_F(ServiceXlateFullAffinityTest, AClientTheMapRefusesIsServedAndCounted) {
  setBackends({{kPodA.ip, 8080}, {kPodB.ip, 8080}}, {.affinity = true});
  ASSERT_EQ(uplinkIngress(fromClient(0x02)).verdict, TC_ACT_REDIRECT);  // kClient's entry
  const uint64_t before = counter(PETREL_LB_AFFINITY_MAP_FULL, METRIC_DIR_INGRESS);
  auto other = PacketBuilder()
                   .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
                   .ipv4("198.51.100.8", kNodeIp, 60)
                   .tcp(50000, kNodePort, 0x02)
                   .build();
  EXPECT_EQ(uplinkIngress(other).verdict, TC_ACT_REDIRECT);
  EXPECT_EQ(counter(PETREL_LB_AFFINITY_MAP_FULL, METRIC_DIR_INGRESS), before + 1);
}

}  // namespace
}  // namespace petrel::bpftest
