// BPF program tests for the overlay: lxc sends traffic for another node's pod CIDR (longest
// prefix in the tunnel map) to the overlay device; the overlay device's egress program addresses
// the frame to the remote node's VTEP MAC (on a classic device with the source identity as the
// mark; on a collect_md device through the tunnel key, which a test run cannot show: the Overlay
// e2e suite checks the VNI on the wire) or drops what has no tunnel; its ingress program
// delivers to local pods.
#include <linux/pkt_cls.h>

#include <gtest/gtest.h>

#include "agent/datapath/overlay.h"
#include "reasons.h"
#include "test/bpf/packet_builder.h"
#include "test/bpf/program_fixture.h"

namespace petrel::bpftest {
namespace {

constexpr uint32_t kOverlayIfindex = 4343;  // the lxc program only passes it to bpf_redirect

class OverlayProgramTest : public ProgramTest {
 protected:
  datapath::LoadOptions loadOptions() const override { return {.tunnel_ifindex = kOverlayIfindex}; }
  void SetUp() override {
    ProgramTest::SetUp();
    if (HasFatalFailure()) return;
    addTunnel("10.201.0.0/16", "192.168.7.1");
    addTunnel("10.201.5.0/24", "192.168.7.5");  // more specific: wins for 10.201.5.x
  }
  void addTunnel(const std::string& cidr_text, const std::string& node) {
    auto cidr = *Ipv4Cidr::parse(cidr_text);
    tunnel_key key{};
    key.prefixlen = TUNNEL_KEY_PREFIX_BITS + cidr.prefix_len;
    key.family = PETREL_AF_INET;
    key.ip4 = cidr.base.toNetwork();
    tunnel_info info{};
    info.ip4 = Ipv4Addr::parse(node)->toNetwork();
    info.family = PETREL_AF_INET;
    ASSERT_TRUE(dp_->tunnels().update(key, info).isOk());
  }
  // The node the tunnel map answers for `ip` (longest prefix match, as the programs see it).
  std::string tunnelFor(const std::string& ip) {
    tunnel_key key{};
    key.prefixlen = TUNNEL_KEY_PREFIX_BITS + 32;
    key.family = PETREL_AF_INET;
    key.ip4 = Ipv4Addr::parse(ip)->toNetwork();
    auto info = dp_->tunnels().lookup(key);
    return info ? Ipv4Addr::fromNetwork(info->ip4).toString() : "";
  }
  std::vector<uint8_t> tcpFrame(const std::string& src, const std::string& dst) {
    return PacketBuilder()
        .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
        .ipv4(src, dst, 64)
        .tcp(40000, 80)
        .payload("hi")
        .build();
  }
};

TEST_F(OverlayProgramTest, TunnelMapIsLongestPrefixMatch) {
  EXPECT_EQ(tunnelFor("10.201.5.9"), "192.168.7.5");
  EXPECT_EQ(tunnelFor("10.201.6.9"), "192.168.7.1");
  EXPECT_EQ(tunnelFor("10.202.0.1"), "");
}

TEST_F(OverlayProgramTest, PodToRemotePodGoesToTheOverlayDevice) {
  uint64_t before = counter(PETREL_TO_TUNNEL, METRIC_DIR_EGRESS);
  auto r = run(tcpFrame(kPodA.ip, "10.201.5.9"));
  EXPECT_EQ(r.verdict, TC_ACT_REDIRECT);
  EXPECT_EQ(counter(PETREL_TO_TUNNEL, METRIC_DIR_EGRESS), before + 1);
  // Not a pod CIDR of any node: the node's stack decides.
  auto outside = run(tcpFrame(kPodA.ip, "8.8.8.8"));
  EXPECT_EQ(outside.verdict, TC_ACT_OK);
}

TEST_F(OverlayProgramTest, EgressAddressesTheRemoteNodeOrDropsWithoutATunnel) {
  uint64_t ok_before = counter(PETREL_TO_TUNNEL, METRIC_DIR_EGRESS);
  auto in = tcpFrame(kPodA.ip, "10.201.5.9");
  auto r = run(in, dp_->overlayEgressFd());
  EXPECT_EQ(r.verdict, TC_ACT_OK);
  EXPECT_EQ(counter(PETREL_TO_TUNNEL, METRIC_DIR_EGRESS), ok_before + 1);
  // The device's forwarding entry for this MAC (the agent's vtepMac) names node 192.168.7.5.
  PacketView v{r.out};
  EXPECT_EQ(v.ethDst(), datapath::vtepMac(*Ipv4Addr::parse("192.168.7.5")));
  EXPECT_EQ(v.ethDst(), mac("02:50:c0:a8:07:05"));
  EXPECT_EQ(v.ethSrc(), PacketView{in}.ethSrc());
  // The source's identity goes as the skb mark, which the device sends as the GBP policy id.
  auto src = dp_->endpoints().lookup(datapath::makeEndpointKey(*Ipv4Addr::parse(kPodA.ip)));
  ASSERT_TRUE(src) << src.status().toString();
  EXPECT_EQ(r.mark, src->identity & 0xffff);
  auto from_node = run(tcpFrame("192.168.7.9", "10.201.5.9"), dp_->overlayEgressFd());
  EXPECT_EQ(from_node.mark, uint32_t{PETREL_IDENTITY_HOST});  // not a pod: the host identity
  auto other = run(tcpFrame(kPodA.ip, "10.201.6.9"), dp_->overlayEgressFd());
  EXPECT_EQ(PacketView{other.out}.ethDst(), mac("02:50:c0:a8:07:01"));

  uint64_t drop_before = counter(PETREL_DROP_NO_TUNNEL, METRIC_DIR_EGRESS);
  auto none = run(tcpFrame(kPodA.ip, "10.250.0.1"), dp_->overlayEgressFd());
  EXPECT_EQ(none.verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_NO_TUNNEL, METRIC_DIR_EGRESS), drop_before + 1);

  auto arp = PacketBuilder()
                 .eth(mac("ff:ff:ff:ff:ff:ff"), mac(kPodA.pod_mac))
                 .arpRequest(mac(kPodA.pod_mac), kPodA.ip, "10.201.5.9")
                 .build();
  EXPECT_EQ(run(arp, dp_->overlayEgressFd()).verdict, TC_ACT_SHOT);
}

TEST_F(OverlayProgramTest, IngressDeliversToTheLocalPodAsARouterHop) {
  uint64_t before = counter(PETREL_FORWARDED, METRIC_DIR_INGRESS);
  auto r = run(tcpFrame("10.201.5.9", kPodB.ip), dp_->overlayIngressFd());
  EXPECT_EQ(r.verdict, TC_ACT_REDIRECT);
  PacketView v{r.out};
  EXPECT_EQ(v.ethDst(), mac(kPodB.pod_mac));
  EXPECT_EQ(v.ethSrc(), mac(kPodB.host_mac));
  EXPECT_EQ(v.ttl(), 63);
  EXPECT_TRUE(v.ipChecksumValid());
  EXPECT_EQ(counter(PETREL_FORWARDED, METRIC_DIR_INGRESS), before + 1);

  // For the node itself (not a local pod): the stack.
  uint64_t stack_before = counter(PETREL_FROM_TUNNEL, METRIC_DIR_INGRESS);
  auto node = run(tcpFrame("10.201.5.9", "192.168.7.9"), dp_->overlayIngressFd());
  EXPECT_EQ(node.verdict, TC_ACT_OK);
  EXPECT_EQ(counter(PETREL_FROM_TUNNEL, METRIC_DIR_INGRESS), stack_before + 1);
}

// --vxlan-mode collect-md: the same programs, loaded for a collect_md device.
class CollectMdOverlayProgramTest : public OverlayProgramTest {
 protected:
  datapath::LoadOptions loadOptions() const override {
    return {.tunnel_ifindex = kOverlayIfindex, .tunnel_collect_md = true};
  }
};

TEST_F(CollectMdOverlayProgramTest, EgressSetsTheTunnelKeyInsteadOfTheMark) {
  uint64_t ok_before = counter(PETREL_TO_TUNNEL, METRIC_DIR_EGRESS);
  auto r = run(tcpFrame(kPodA.ip, "10.201.5.9"), dp_->overlayEgressFd());
  EXPECT_EQ(r.verdict, TC_ACT_OK);
  EXPECT_EQ(counter(PETREL_TO_TUNNEL, METRIC_DIR_EGRESS), ok_before + 1);
  // The identity goes in the VNI, so the mark stays as it was; the inner destination is still
  // the remote node's VTEP MAC, the receiving device's own address.
  EXPECT_EQ(r.mark, 0u);
  EXPECT_EQ(PacketView{r.out}.ethDst(), mac("02:50:c0:a8:07:05"));
  uint64_t drop_before = counter(PETREL_DROP_NO_TUNNEL, METRIC_DIR_EGRESS);
  EXPECT_EQ(run(tcpFrame(kPodA.ip, "10.250.0.1"), dp_->overlayEgressFd()).verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_NO_TUNNEL, METRIC_DIR_EGRESS), drop_before + 1);
}

TEST_F(CollectMdOverlayProgramTest, IngressWithoutATunnelKeyStillDelivers) {
  // A test run's packet carries no tunnel metadata: the mark is left alone and the pod gets it.
  auto r = run(tcpFrame("10.201.5.9", kPodB.ip), dp_->overlayIngressFd());
  EXPECT_EQ(r.verdict, TC_ACT_REDIRECT);
  EXPECT_EQ(PacketView{r.out}.ethDst(), mac(kPodB.pod_mac));
  EXPECT_EQ(r.mark, 0u);
}

}  // namespace
}  // namespace petrel::bpftest
