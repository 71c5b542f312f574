// The datapath cleanup on real devices in a namespace of the test's own: Petrel's tc and XDP
// programs are detached from every link, while other software's BPF programs stay, also one at
// the very tc handle and priority Petrel uses; pins are removed by name only, a pin that is not
// Petrel's keeps the pin root, and a pin root that is not a directory on bpffs is refused.
#include "agent/datapath/datapath_cleanup.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <net/if.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "agent/datapath/tc_attach.h"
#include "agent/datapath/xdp_attach.h"
#include "common/unique_fd.h"
#include "test/bpf/program_fixture.h"
#include "test/bpf/test_netns.h"

namespace petrel::bpftest {
namespace {

namespace fs = std::filesystem;
using datapath::CleanupReport;
using datapath::TcDirection;

// A program of another software that passes everything, named `name`.
UniqueFd passAll(bpf_prog_type type, const char* name, int verdict) {
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K,
       .dst_reg = BPF_REG_0,
       .src_reg = 0,
       .off = 0,
       .imm = verdict},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  return UniqueFd(bpf_prog_load(type, name, "GPL", insns, 2, nullptr));
}

// The id of the tc program at Petrel's handle and priority on `dev` `point` (0: none).
uint32_t tcProgram(const char* dev, bpf_tc_attach_point point) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(if_nametoindex(dev)),
              .attach_point = point);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
  return bpf_tc_query(&hook, &opts) == 0 ? opts.prog_id : 0;
}

uint32_t xdpProgram(const char* dev, uint32_t mode) {
  uint32_t id = 0;
  EXPECT_EQ(bpf_xdp_query_id(static_cast<int>(if_nametoindex(dev)), static_cast<int>(mode), &id),
            0);
  return id;
}

bool contains(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

class DatapathCleanupTest : public ProgramTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(netns_.enter(
        "cleanup", {"link add x0 type veth peer name x1", "link set x0 up", "link set x1 up",
                    "addr add 192.168.240.1/24 dev up0", "route add default via 192.168.240.2"}));
    ProgramTest::SetUp();
  }
  void TearDown() override {
    ProgramTest::TearDown();
    netns_.leave();
  }

  TestNetns netns_;
};

TEST_F(DatapathCleanupTest, DetachesPetrelsProgramsOnlyAndIsIdempotent) {
  const uint32_t up0 = if_nametoindex("up0"), up1 = if_nametoindex("up1");
  // Petrel's, as the agent attaches them.
  ASSERT_TRUE(datapath::attachTc(up0, dp_->lxcProgramFd(), TcDirection::kIngress));
  ASSERT_TRUE(datapath::attachTc(up1, dp_->uplinkEgressFd(), TcDirection::kEgress));
  ASSERT_TRUE(datapath::attachTc(up1, dp_->uplinkIngressFd(), TcDirection::kIngress));
  auto xdp =
      datapath::applyUplinkXdp("up1", up1, dp_->uplinkXdpFd(), datapath::LbAcceleration::kNative);
  ASSERT_TRUE(xdp && *xdp) << xdp.status().toString();
  // Another software's: a tc program at Petrel's very handle and priority, and XDP.
  UniqueFd other_tc = passAll(BPF_PROG_TYPE_SCHED_CLS, "other_tc", TC_ACT_OK);
  UniqueFd other_xdp = passAll(BPF_PROG_TYPE_XDP, "other_xdp", XDP_PASS);
  ASSERT_TRUE(other_tc && other_xdp) << strerror(errno);
  ASSERT_TRUE(datapath::attachTc(up0, other_tc.get(), TcDirection::kEgress));
  ASSERT_EQ(bpf_xdp_attach(static_cast<int>(if_nametoindex("x0")), other_xdp.get(),
                           XDP_FLAGS_DRV_MODE, nullptr),
            0);
  const uint32_t other_tc_id = tcProgram("up0", BPF_TC_EGRESS);
  const uint32_t other_xdp_id = xdpProgram("x0", XDP_FLAGS_DRV_MODE);
  ASSERT_NE(other_tc_id, 0u);
  ASSERT_NE(other_xdp_id, 0u);

  CleanupReport report;
  datapath::detachPetrelPrograms(report);
  EXPECT_TRUE(report.ok()) << report.failures().front();
  const auto& removed = report.removedItems();
  EXPECT_EQ(removed.size(), 4u) << report.summary();
  EXPECT_TRUE(contains(removed, "tc ingress program petrel_lxc_from on up0"));
  EXPECT_TRUE(contains(removed, "tc ingress program petrel_uplink_i on up1"));
  EXPECT_TRUE(contains(removed, "tc egress program petrel_uplink_e on up1"));
  EXPECT_TRUE(contains(removed, "XDP program petrel_uplink_x (driver mode) on up1"));
  EXPECT_EQ(tcProgram("up0", BPF_TC_INGRESS), 0u);
  EXPECT_EQ(tcProgram("up1", BPF_TC_INGRESS), 0u);
  EXPECT_EQ(tcProgram("up1", BPF_TC_EGRESS), 0u);
  EXPECT_EQ(xdpProgram("up1", XDP_FLAGS_DRV_MODE), 0u);
  EXPECT_EQ(tcProgram("up0", BPF_TC_EGRESS), other_tc_id);
  EXPECT_EQ(xdpProgram("x0", XDP_FLAGS_DRV_MODE), other_xdp_id);

  CleanupReport again;
  datapath::detachPetrelPrograms(again);
  EXPECT_TRUE(again.ok());
  EXPECT_EQ(again.summary(), "removed 0 things, 0 failures");
}

// Native routing: the routes the tunnel map records, via other nodes on the underlay, go; a route
// to a CIDR it does not record, and one of another protocol to a recorded CIDR, stay.
TEST_F(DatapathCleanupTest, RemovesTheRoutesTheTunnelMapRecords) {
  for (const auto& [cidr, node] :
       {std::pair{"10.201.0.0/24", "192.168.240.7"}, std::pair{"10.203.0.0/24", "192.168.240.9"}}) {
    tunnel_key key{};
    key.prefixlen = TUNNEL_KEY_PREFIX_BITS + 24;
    key.family = PETREL_AF_INET;
    key.ip4 = Ipv4Cidr::parse(cidr)->base.toNetwork();
    tunnel_info info{};
    info.family = PETREL_AF_INET;
    info.ip4 = Ipv4Addr::parse(node)->toNetwork();
    ASSERT_TRUE(dp_->tunnels().update(key, info));
  }
  const std::string ip = "ip route add ";
  for (const std::string& cmd : {ip + "10.201.0.0/24 via 192.168.240.7 dev up0 proto boot",
                                 ip + "10.202.0.0/24 via 192.168.240.8 dev up0 proto boot",
                                 ip + "10.203.0.0/24 via 192.168.240.9 dev up0 proto static"}) {
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  std::vector<std::string> lines;
  CleanupReport report([&](bool, std::string_view line) { lines.emplace_back(line); });
  datapath::removeTunnelRoutes(pin_root_, report);
  EXPECT_TRUE(report.ok()) << report.failures().front();
  EXPECT_EQ(report.removedItems(), std::vector<std::string>{"route 10.201.0.0/24 dev up0"});
  EXPECT_TRUE(contains(lines,
                       "kept route 10.203.0.0/24 dev up0: not added by Petrel (another "
                       "protocol)"));
  EXPECT_NE(std::system("ip route show 10.201.0.0/24 | grep -q ."), 0);
  EXPECT_EQ(std::system("ip route show 10.202.0.0/24 | grep -q ."), 0);
  EXPECT_EQ(std::system("ip route show 10.203.0.0/24 | grep -q ."), 0);
}

TEST_F(DatapathCleanupTest, RemovesPetrelsPinsOnlyAndRefusesAPinRootOffBpffs) {
  // A pin that is not Petrel's keeps the pin root.
  UniqueFd other = passAll(BPF_PROG_TYPE_XDP, "other_xdp", XDP_PASS);
  ASSERT_TRUE(other);
  const std::string foreign = pin_root_ + "/other_pin";
  ASSERT_EQ(bpf_obj_pin(other.get(), foreign.c_str()), 0) << strerror(errno);
  std::vector<std::string> lines;
  CleanupReport report([&](bool, std::string_view line) { lines.emplace_back(line); });
  datapath::removePins(pin_root_, report);
  EXPECT_TRUE(report.ok()) << report.failures().front();
  EXPECT_TRUE(contains(report.removedItems(), "pinned map " + pin_root_ + "/petrel_ct"));
  EXPECT_TRUE(fs::exists(foreign));
  EXPECT_FALSE(fs::exists(pin_root_ + "/petrel_ct"));
  EXPECT_TRUE(contains(lines, "kept " + pin_root_ + ": it holds files that are not Petrel's"));
  fs::remove(foreign);

  CleanupReport again;
  datapath::removePins(pin_root_, again);
  EXPECT_TRUE(again.ok());
  EXPECT_EQ(again.removedItems(), std::vector<std::string>{"directory " + pin_root_});

  // Not on bpffs: nothing is touched.
  const fs::path tmp =
      fs::temp_directory_path() / ("petrel-bpftest-cleanup-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  { std::ofstream(tmp / "petrel_ct") << "x"; }
  CleanupReport refused;
  datapath::removePins(tmp.string(), refused);
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(fs::exists(tmp / "petrel_ct"));
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace petrel::bpftest
