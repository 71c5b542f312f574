// BPF program tests for the overlay's receive fast path on the uplink (bpf/lib/overlay_decap.h):
// a VXLAN packet from another node for a local pod leaves the uplink's tc ingress decapsulated,
// addressed to the pod and redirected to it, with the source's identity in the mark (the GBP
// group policy id from a classic device, the VNI from a collect_md one); every packet the fast path
// does not take entirely goes on to the VXLAN device byte for byte as it came. In native routing
// mode another node's pod's packets arrive as they are and are redirected the same way.
#include <arpa/inet.h>
#include <linux/pkt_cls.h>

#include <algorithm>
#include <cstring>

#include <gtest/gtest.h>

#include "reasons.h"
#include "test/bpf/packet_builder.h"
#include "test/bpf/program_fixture.h"

namespace petrel::bpftest {
namespace {

constexpr const char* kNodeIp = "192.168.50.10";
constexpr const char* kOtherNode = "192.168.50.11";
constexpr const char* kNodeVtep = "02:50:c0:a8:32:0a";  // 192.168.50.10's overlay device
constexpr const char* kRemotePod = "10.201.5.9";
constexpr uint16_t kTunnelPort = 8472;
constexpr uint32_t kFlagsI = 0x08000000;
constexpr uint32_t kFlagsGI = 0x88000000;
constexpr size_t kEncap = 14 + 20 + 8 + 8;  // outer Ethernet, IPv4, UDP, VXLAN

class OverlayDecapTest : public ProgramTest {
 protected:
  void SetUp() override {
    ProgramTest::SetUp();
    if (HasFatalFailure()) return;
    configureUplink(kNodeIp).tunnel_port = htons(kTunnelPort);
    addTunnel("10.201.0.0", 16, kOtherNode);
  }
  // What another node's pod sends one of ours, as the remote overlay device addressed it.
  static PacketBuilder inner(const std::string& src = kRemotePod, const std::string& dst = kPodB.ip,
                             const std::string& dst_mac = kNodeVtep) {
    PacketBuilder b;
    b.eth(mac("02:50:c0:a8:32:0b"), mac(dst_mac)).ipv4(src, dst, 63);
    return b;
  }
  // `frame` wrapped as the overlay sends it: no UDP checksum, the VXLAN header's two words.
  static std::vector<uint8_t> wrap(const std::vector<uint8_t>& frame, uint32_t flags,
                                   uint32_t vni) {
    std::string vx(8, '\0');
    const uint32_t words[2] = {htonl(flags), htonl(vni << 8)};
    std::memcpy(vx.data(), words, sizeof(words));
    vx.append(frame.begin(), frame.end());
    auto out = PacketBuilder()
                   .eth(mac("02:00:00:00:00:0b"), mac("02:00:00:00:00:0a"))
                   .ipv4(kOtherNode, kNodeIp, 64)
                   .udp(47000, kTunnelPort)
                   .payload(vx)
                   .build();
    out[14 + 20 + 6] = out[14 + 20 + 7] = 0;
    return out;
  }
  RunResult ingress(const std::vector<uint8_t>& frame) {
    return run(frame, dp_->uplinkIngressFd());
  }
  // The packet goes on to the VXLAN device exactly as it came.
  void expectLeftToTheDevice(const std::vector<uint8_t>& frame, const std::string& why) {
    auto r = ingress(frame);
    EXPECT_EQ(r.verdict, TC_ACT_OK) << why;
    EXPECT_EQ(r.out, frame) << why;
    EXPECT_EQ(r.mark, 0u) << why;
  }
  // The pod gets `sent` as a router hop would pass it on, with `identity` in the mark.
  void expectDelivered(const std::vector<uint8_t>& sent, uint32_t flags, uint32_t vni,
                       uint32_t identity) {
    const uint64_t before = counter(PETREL_FORWARDED, METRIC_DIR_INGRESS);
    auto r = ingress(wrap(sent, flags, vni));
    ASSERT_EQ(r.verdict, TC_ACT_REDIRECT);
    ASSERT_EQ(r.out.size(), sent.size());
    PacketView in{sent}, out{r.out};
    EXPECT_EQ(out.ethDst(), mac(kPodB.pod_mac));
    EXPECT_EQ(out.ethSrc(), mac(kPodB.host_mac));
    EXPECT_EQ(out.ipSrc(), in.ipSrc());
    EXPECT_EQ(out.ipDst(), kPodB.ip);
    EXPECT_EQ(out.ttl(), in.ttl() - 1);
    EXPECT_TRUE(out.ipChecksumValid());
    EXPECT_TRUE(out.l4ChecksumValid());
    EXPECT_TRUE(std::equal(r.out.begin() + 34, r.out.end(), sent.begin() + 34));  // L4 as sent
    EXPECT_EQ(r.mark, identity);
    EXPECT_EQ(counter(PETREL_FORWARDED, METRIC_DIR_INGRESS), before + 1);
  }
};

TEST_F(OverlayDecapTest, ClassicDevicesPacketsGoStraightToThePodWithTheGbpIdentity) {
  const auto tcp = inner().tcp(40000, 80, 0x18).payload("GET / HTTP/1.1\r\n\r\n").build();
  expectDelivered(tcp, kFlagsGI | 0x1234, PETREL_OVERLAY_VNI, 0x1234);
  // No G flag: no identity, as the device leaves the mark.
  expectDelivered(tcp, kFlagsI, PETREL_OVERLAY_VNI, 0);
  // UDP and ICMP from a pod of another node take the same path.
  expectDelivered(inner().udp(5353, 53).payload("q").build(), kFlagsGI | 7, PETREL_OVERLAY_VNI, 7);
  expectDelivered(inner().icmpEcho(9, 1).build(), kFlagsGI | 7, PETREL_OVERLAY_VNI, 7);
}

TEST_F(OverlayDecapTest, CollectMdDevicesPacketsCarryTheIdentityInTheVni) {
  const auto tcp = inner().tcp(40000, 80, 0x10).payload("x").build();
  expectDelivered(tcp, kFlagsI, 0xabcd, 0xabcd);
  expectDelivered(tcp, kFlagsI, 0, 0);
  // Any other VNI than the overlay's is the identity, whatever the GBP word says (a collect_md
  // sender writes the identity there too).
  expectDelivered(tcp, kFlagsGI | 0x55, 0xabcd, 0xabcd);
  // The overlay's VNI is a classic sender's, or the host identity's (a collect_md sender, the XDP
  // NodePort path): the GBP group policy id holds it.
  expectDelivered(tcp, kFlagsGI | PETREL_IDENTITY_HOST, PETREL_OVERLAY_VNI, PETREL_IDENTITY_HOST);
}

TEST_F(OverlayDecapTest, WhatTheFastPathDoesNotTakeEntirelyGoesToTheDevice) {
  const auto tcp = inner().tcp(40000, 80, 0x10).payload("x").build();
  // The wrapped packet with one byte changed (the outer IPv4 checksum kept right).
  auto with = [&](size_t offset, uint8_t value) {
    auto f = wrap(tcp, kFlagsGI, PETREL_OVERLAY_VNI);
    f[offset] = value;
    f[14 + 10] = f[14 + 11] = 0;
    uint32_t sum = 0;
    for (size_t i = 14; i < 34; i += 2) sum += f[i] << 8 | f[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    f[14 + 10] = static_cast<uint8_t>(~sum >> 8);
    f[14 + 11] = static_cast<uint8_t>(~sum);
    return f;
  };
  ASSERT_EQ(ingress(with(14 + 8, 64)).verdict, TC_ACT_REDIRECT);  // the same TTL: still taken
  auto bad_checksum = wrap(tcp, kFlagsGI, PETREL_OVERLAY_VNI);
  bad_checksum[14 + 10] ^= 0xff;
  expectLeftToTheDevice(bad_checksum, "a wrong outer IPv4 checksum");
  const auto sent = wrap(tcp, kFlagsGI, PETREL_OVERLAY_VNI);
  expectLeftToTheDevice(with(14 + 3, sent[14 + 3] + 1), "an outer length beyond the packet");
  expectLeftToTheDevice(with(14 + 20 + 5, sent[14 + 20 + 5] - 1), "a UDP length short of it");
  expectLeftToTheDevice(with(14, 0x46), "outer IPv4 options");
  expectLeftToTheDevice(with(kEncap + 12, 0x86), "an inner frame that is not IPv4");
  expectLeftToTheDevice(with(14 + 20 + 6, 0x12), "a UDP checksum (to be verified)");
  expectLeftToTheDevice(with(14 + 1, 0x03), "an ECN congestion mark (to be copied inside)");
  expectLeftToTheDevice(with(14 + 6, 0x20), "an outer fragment");
  expectLeftToTheDevice(with(14 + 20 + 8, 0x0c), "a VXLAN flag beyond I and G");
  expectLeftToTheDevice(with(14 + 20 + 8, 0x80), "no I flag");
  expectLeftToTheDevice(with(14 + 20 + 9, 0x40), "GBP's don't-learn flag");
  expectLeftToTheDevice(with(14 + 20 + 15, 0x01), "the reserved byte after the VNI");
  expectLeftToTheDevice(wrap(inner(kRemotePod, "10.200.0.77").tcp(1, 2).build(), kFlagsGI, 1),
                        "no such local pod");
  expectLeftToTheDevice(
      wrap(inner(kRemotePod, kPodB.ip, "02:50:c0:a8:32:0c").tcp(1, 2).build(), kFlagsGI, 1),
      "another node's device address");
  auto ttl1 = PacketBuilder()
                  .eth(mac("02:50:c0:a8:32:0b"), mac(kNodeVtep))
                  .ipv4(kRemotePod, kPodB.ip, 1)
                  .tcp(1, 2)
                  .build();
  expectLeftToTheDevice(wrap(ttl1, kFlagsGI, 1), "a TTL that expires here");
  expectLeftToTheDevice(wrap(inner(kOtherNode).udp(40000, 53).build(), kFlagsGI, 1),
                        "UDP from another node's own address (the overlay program remembers it)");
  auto cut = wrap(tcp, kFlagsGI, PETREL_OVERLAY_VNI);
  cut.resize(kEncap + 14 + 10);
  expectLeftToTheDevice(cut, "an inner IPv4 header cut short");
}

TEST_F(OverlayDecapTest, NativeRoutingPodTrafficGoesStraightToThePod) {
  dp_->natConfig().tunnel_port = 0;  // native routing mode
  auto plain = [](const std::string& src, const std::string& dst, uint8_t ttl) {
    return PacketBuilder()
        .eth(mac("02:00:00:00:00:0b"), mac("02:00:00:00:00:0a"))
        .ipv4(src, dst, ttl)
        .tcp(40000, 80, 0x10)
        .payload("x")
        .build();
  };
  const uint64_t before = counter(PETREL_FORWARDED, METRIC_DIR_INGRESS);
  const auto sent = plain(kRemotePod, kPodB.ip, 63);
  auto r = ingress(sent);
  ASSERT_EQ(r.verdict, TC_ACT_REDIRECT);
  PacketView out{r.out};
  EXPECT_EQ(out.ethDst(), mac(kPodB.pod_mac));
  EXPECT_EQ(out.ethSrc(), mac(kPodB.host_mac));
  EXPECT_EQ(out.ipSrc(), kRemotePod);
  EXPECT_EQ(out.ttl(), 62);
  EXPECT_TRUE(out.ipChecksumValid());
  EXPECT_TRUE(std::equal(r.out.begin() + 34, r.out.end(), sent.begin() + 34));
  EXPECT_EQ(counter(PETREL_FORWARDED, METRIC_DIR_INGRESS), before + 1);
  // The rest is the stack's: from outside the cluster, to no local pod, a TTL that expires here,
  // and in tunnel mode (where other nodes' pods' packets come wrapped) any such packet.
  auto leftToTheStack = [&](const std::vector<uint8_t>& frame) {
    auto left = ingress(frame);
    EXPECT_EQ(left.verdict, TC_ACT_OK);
    EXPECT_EQ(left.out, frame);
  };
  for (const auto& frame : {plain("198.51.100.7", kPodB.ip, 63),
                            plain(kRemotePod, "10.200.0.77", 63), plain(kRemotePod, kPodB.ip, 1)}) {
    leftToTheStack(frame);
  }
  dp_->natConfig().tunnel_port = htons(kTunnelPort);
  leftToTheStack(sent);
  EXPECT_EQ(counter(PETREL_FORWARDED, METRIC_DIR_INGRESS), before + 1);
}

}  // namespace
}  // namespace petrel::bpftest
