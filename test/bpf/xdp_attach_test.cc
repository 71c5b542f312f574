// The uplink's XDP attachment decisions (--lb-acceleration) on real devices in a namespace of
// the test's own: native attaches in driver mode or fails with what to do, best-effort leaves a
// veth and a device without driver-mode XDP to tc, disabled detaches Petrel's program, and
// another program already attached is never replaced or detached.
#include <bpf/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <gtest/gtest.h>

#include "agent/datapath/xdp_attach.h"
#include "common/unique_fd.h"
#include "test/bpf/program_fixture.h"
#include "test/bpf/test_netns.h"

namespace petrel::bpftest {
namespace {

using datapath::applyUplinkXdp;
using datapath::LbAcceleration;

class XdpAttachTest : public ProgramTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(netns_.enter("xdp"));
    ProgramTest::SetUp();
  }
  void TearDown() override {
    ProgramTest::TearDown();
    netns_.leave();
  }
  // The id of the program attached to `device` in driver mode (0: none).
  static uint32_t attached(const char* device) {
    uint32_t id = 0;
    EXPECT_EQ(bpf_xdp_query_id(static_cast<int>(if_nametoindex(device)), XDP_FLAGS_DRV_MODE, &id),
              0);
    return id;
  }
  Result<bool> apply(const char* device, LbAcceleration mode) {
    return applyUplinkXdp(device, if_nametoindex(device), dp_->uplinkXdpFd(), mode);
  }

  TestNetns netns_;
};

TEST_F(XdpAttachTest, NativeAttachesInDriverModeAndDisabledDetaches) {
  auto on = apply("up0", LbAcceleration::kNative);
  ASSERT_TRUE(on) << on.status().toString();
  EXPECT_TRUE(*on);
  const uint32_t id = attached("up0");
  EXPECT_NE(id, 0u);
  auto again = apply("up0", LbAcceleration::kNative);  // an agent restart: replaced in place
  ASSERT_TRUE(again) << again.status().toString();
  EXPECT_TRUE(*again);
  EXPECT_NE(attached("up0"), 0u);
  auto off = apply("up0", LbAcceleration::kDisabled);
  ASSERT_TRUE(off) << off.status().toString();
  EXPECT_FALSE(*off);
  EXPECT_EQ(attached("up0"), 0u);
}

TEST_F(XdpAttachTest, BestEffortLeavesAVethAndADeviceWithoutDriverXdpToTc) {
  auto veth = apply("up0", LbAcceleration::kBestEffort);
  ASSERT_TRUE(veth) << veth.status().toString();
  EXPECT_FALSE(*veth);
  EXPECT_EQ(attached("up0"), 0u);
  // Loopback has no driver-mode XDP: best-effort falls back, native fails saying what to do.
  auto lo = apply("lo", LbAcceleration::kBestEffort);
  ASSERT_TRUE(lo) << lo.status().toString();
  EXPECT_FALSE(*lo);
  auto native = apply("lo", LbAcceleration::kNative);
  ASSERT_FALSE(native);
  EXPECT_EQ(native.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(native.status().message().find("--lb-acceleration=best-effort"), std::string::npos)
      << native.status().message();
}

TEST_F(XdpAttachTest, AnotherXdpProgramIsNeverReplacedOrDetached) {
  const bpf_insn pass[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS},
      {.code = BPF_JMP | BPF_EXIT},
  };
  UniqueFd other(bpf_prog_load(BPF_PROG_TYPE_XDP, "other_xdp", "GPL", pass, 2, nullptr));
  ASSERT_TRUE(other) << "load a pass-all XDP program: " << strerror(errno);
  ASSERT_EQ(bpf_xdp_attach(static_cast<int>(if_nametoindex("up0")), other.get(), XDP_FLAGS_DRV_MODE,
                           nullptr),
            0);
  const uint32_t other_id = attached("up0");
  auto native = apply("up0", LbAcceleration::kNative);
  ASSERT_FALSE(native);
  EXPECT_NE(native.status().message().find("other_xdp"), std::string::npos)
      << native.status().message();
  auto off = apply("up0", LbAcceleration::kDisabled);
  ASSERT_TRUE(off) << off.status().toString();
  EXPECT_EQ(attached("up0"), other_id);
}

}  // namespace
}  // namespace petrel::bpftest
