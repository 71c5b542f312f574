// BPF program tests for lxc (from-container): each case builds a frame, prepares the endpoint
// map, runs the real program with BPF_PROG_TEST_RUN and checks verdict, rewritten frame and
// counters. Needs root (loads BPF); fails, never skips, without it.
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "agent/core/endpoint.h"
#include "agent/datapath/endpoint_datapath.h"
#include "agent/datapath/loader.h"
#include "common/unique_fd.h"
#include "maps.h"
#include "reasons.h"
#include "test/bpf/packet_builder.h"
#include "test/bpf/program_fixture.h"

namespace petrel::bpftest {
namespace {

using LxcProgramTest = ProgramTest;

TEST_F(LxcProgramTest, PodToLocalPodIsRedirectedToPeerWithRoutedHeaders) {
  auto frame = PacketBuilder()
                   .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                   .ipv4(kPodA.ip, kPodB.ip, 64)
                   .tcp(40000, 80)
                   .payload("hello")
                   .build();
  uint64_t before = counter(PETREL_FORWARDED, METRIC_DIR_EGRESS);
  auto r = run(frame);
  EXPECT_EQ(r.verdict, TC_ACT_REDIRECT);
  PacketView v{r.out};
  EXPECT_EQ(v.ethDst(), mac(kPodB.pod_mac));
  EXPECT_EQ(v.ethSrc(), mac(kPodB.host_mac));
  EXPECT_EQ(v.ipSrc(), kPodA.ip);
  EXPECT_EQ(v.ipDst(), kPodB.ip);
  EXPECT_EQ(v.ttl(), 63);
  EXPECT_TRUE(v.ipChecksumValid());
  EXPECT_EQ(counter(PETREL_FORWARDED, METRIC_DIR_EGRESS), before + 1);
}

TEST_F(LxcProgramTest, PodToItselfIsRedirectedBack) {
  auto frame = PacketBuilder()
                   .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                   .ipv4(kPodA.ip, kPodA.ip)
                   .icmpEcho(1, 1)
                   .build();
  auto r = run(frame);
  EXPECT_EQ(r.verdict, TC_ACT_REDIRECT);
  EXPECT_EQ(PacketView{r.out}.ethDst(), mac(kPodA.pod_mac));
}

TEST_F(LxcProgramTest, PodToNodeGoesToTheStackUnchanged) {
  auto frame = PacketBuilder()
                   .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                   .ipv4(kPodA.ip, "192.168.50.1")
                   .udp(5353, 53)
                   .payload("q")
                   .build();
  uint64_t before = counter(PETREL_TO_STACK, METRIC_DIR_EGRESS);
  auto r = run(frame);
  EXPECT_EQ(r.verdict, TC_ACT_OK);
  EXPECT_EQ(r.out, frame);
  EXPECT_EQ(counter(PETREL_TO_STACK, METRIC_DIR_EGRESS), before + 1);
}

TEST_F(LxcProgramTest, ExpiringTtlIsLeftToTheStackForIcmpTimeExceeded) {
  auto frame = PacketBuilder()
                   .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                   .ipv4(kPodA.ip, kPodB.ip, 1)
                   .tcp(1, 2)
                   .build();
  auto r = run(frame);
  EXPECT_EQ(r.verdict, TC_ACT_OK);
  EXPECT_EQ(PacketView{r.out}.ttl(), 1);
}

TEST_F(LxcProgramTest, SpoofedSourceIsDroppedAndCounted) {
  auto frame = PacketBuilder()
                   .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                   .ipv4(kPodB.ip /* not this interface's pod */, kPodA.ip)
                   .tcp(1, 2)
                   .build();
  uint64_t before = counter(PETREL_DROP_SPOOFED_SOURCE, METRIC_DIR_EGRESS);
  EXPECT_EQ(run(frame).verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_SPOOFED_SOURCE, METRIC_DIR_EGRESS), before + 1);

  auto unknown = PacketBuilder()
                     .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                     .ipv4("10.200.0.99", kPodB.ip)
                     .tcp(1, 2)
                     .build();
  EXPECT_EQ(run(unknown).verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_SPOOFED_SOURCE, METRIC_DIR_EGRESS), before + 2);
}

TEST_F(LxcProgramTest, TruncatedAndMalformedIpv4IsDropped) {
  auto frame = PacketBuilder()
                   .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac))
                   .ipv4(kPodA.ip, kPodB.ip)
                   .tcp(1, 2)
                   .build();
  uint64_t before = counter(PETREL_DROP_INVALID, METRIC_DIR_EGRESS);
  // The kernel's test run refuses frames shorter than an IPv4 header; cut right after it and
  // claim options that are not there.
  std::vector<uint8_t> truncated(frame.begin(), frame.begin() + 14 + 20);
  truncated[14] = 0x46;  // IHL 6: 4 option bytes missing
  EXPECT_EQ(run(truncated).verdict, TC_ACT_SHOT);
  auto bad_ihl = frame;
  bad_ihl[14] = 0x43;  // IHL 3 < 5
  EXPECT_EQ(run(bad_ihl).verdict, TC_ACT_SHOT);
  auto long_ihl = frame;
  long_ihl[14] = 0x4f;  // IHL 15: options run past the end of this short frame
  long_ihl.resize(14 + 40);
  EXPECT_EQ(run(long_ihl).verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_INVALID, METRIC_DIR_EGRESS), before + 3);
}

TEST_F(LxcProgramTest, UnknownEthertypeIsDropped) {
  auto frame = PacketBuilder()
                   .eth(mac(kPodA.pod_mac), mac(kPodA.host_mac), 0x88b5)
                   .payload(std::string(46, 'x'))
                   .build();
  uint64_t before = counter(PETREL_DROP_UNSUPPORTED_L3, METRIC_DIR_EGRESS);
  EXPECT_EQ(run(frame).verdict, TC_ACT_SHOT);
  EXPECT_EQ(counter(PETREL_DROP_UNSUPPORTED_L3, METRIC_DIR_EGRESS), before + 1);
}

TEST_F(LxcProgramTest, ArpForTheGatewayIsAnsweredWithTheHostVethMac) {
  auto frame = PacketBuilder()
                   .eth(mac(kPodA.pod_mac), mac("ff:ff:ff:ff:ff:ff"))
                   .arpRequest(mac(kPodA.pod_mac), kPodA.ip, "10.200.0.1")
                   .build();
  uint64_t before = counter(PETREL_ARP_REPLY, METRIC_DIR_EGRESS);
  auto r = run(frame);
  EXPECT_EQ(r.verdict, TC_ACT_REDIRECT);
  PacketView v{r.out};
  EXPECT_EQ(v.ethDst(), mac(kPodA.pod_mac));
  EXPECT_EQ(v.ethSrc(), mac(kPodA.host_mac));
  EXPECT_EQ(v.arpOp(), 2);
  EXPECT_EQ(v.arpSenderMac(), mac(kPodA.host_mac));
  EXPECT_EQ(v.arpSenderIp(), "10.200.0.1");
  EXPECT_EQ(v.arpTargetMac(), mac(kPodA.pod_mac));
  EXPECT_EQ(v.arpTargetIp(), kPodA.ip);
  EXPECT_EQ(counter(PETREL_ARP_REPLY, METRIC_DIR_EGRESS), before + 1);
}

TEST_F(LxcProgramTest, GratuitousArpIsNotAnswered) {
  auto frame = PacketBuilder()
                   .eth(mac(kPodA.pod_mac), mac("ff:ff:ff:ff:ff:ff"))
                   .arpRequest(mac(kPodA.pod_mac), kPodA.ip, kPodA.ip)
                   .build();
  auto r = run(frame);
  EXPECT_EQ(r.verdict, TC_ACT_OK);
  EXPECT_EQ(r.out, frame);
}

TEST_F(LxcProgramTest, ArpFromAnUnknownSenderIsDropped) {
  auto frame = PacketBuilder()
                   .eth(mac(kPodA.pod_mac), mac("ff:ff:ff:ff:ff:ff"))
                   .arpRequest(mac(kPodA.pod_mac), "10.200.0.77", "10.200.0.1")
                   .build();
  EXPECT_EQ(run(frame).verdict, TC_ACT_SHOT);
}

// Maps are pinned and reused: a second load (an agent restart) sees the entries of the first.
TEST_F(LxcProgramTest, ReloadReusesPinnedMaps) {
  auto second = datapath::LoadedDatapath::load(pin_root_);
  ASSERT_TRUE(second) << second.status().toString();
  auto v =
      second.value()->endpoints().lookup(datapath::makeEndpointKey(*Ipv4Addr::parse(kPodB.ip)));
  ASSERT_TRUE(v) << v.status().toString();
  EXPECT_EQ(v->ifindex, kPeerIfindex);
}

// A pin the objects cannot reuse (an older agent's map of another layout) fails the load with
// what to do about it, a command that exists.
TEST_F(LxcProgramTest, APinOfAnotherLayoutFailsTheLoadSayingWhatToDo) {
  const std::string root = pin_root_ + "-old";
  ASSERT_TRUE(std::filesystem::create_directories(root));
  UniqueFd old(
      bpf_map_create(BPF_MAP_TYPE_HASH, "petrel_endpoint", sizeof(endpoint_key), 8, 16, nullptr));
  ASSERT_TRUE(old) << strerror(errno);
  ASSERT_EQ(bpf_obj_pin(old.get(), (root + "/" PETREL_MAP_ENDPOINTS).c_str()), 0)
      << strerror(errno);
  auto dp = datapath::LoadedDatapath::load(root);
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  ASSERT_FALSE(dp);
  EXPECT_NE(dp.status().message().find("rm -r " + root), std::string::npos)
      << dp.status().message();
  EXPECT_EQ(dp.status().message().find("petrel bpf cleanup"), std::string::npos);
}

}  // namespace
}  // namespace petrel::bpftest
