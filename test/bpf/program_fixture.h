// The fixture of the BPF program tests: loads the real programs with maps pinned under a unique
// bpffs directory, fills the endpoint map with two pods, runs a program with BPF_PROG_TEST_RUN on
// a built frame and reads the per-reason counters. Needs root; fails, never skips, without it.
#pragma once

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/core/endpoint.h"
#include "agent/datapath/endpoint_datapath.h"
#include "agent/datapath/loader.h"
#include "agent/datapath/uplink.h"
#include "maps.h"

namespace petrel::bpftest {

constexpr uint32_t kLoopbackIfindex = 1;  // test runs see the packet arriving on lo
constexpr uint32_t kPeerIfindex = 4242;   // a host veth that needs no existence for test runs

struct TestEndpoint {
  std::string ip;
  uint32_t ifindex;
  std::string pod_mac;
  std::string host_mac;
};

const TestEndpoint kPodA{"10.200.0.2", kLoopbackIfindex, "0a:00:00:00:00:02", "0e:00:00:00:00:02"};
const TestEndpoint kPodB{"10.200.0.3", kPeerIfindex, "0a:00:00:00:00:03", "0e:00:00:00:00:03"};

struct RunResult {
  int verdict = -1;
  std::vector<uint8_t> out;
  uint32_t mark = 0;  // the skb's mark as the program left it
};

class ProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "BPF program tests load BPF programs and need root: run them as "
                                "root (sudo ctest -L bpf)";
    pin_root_ = "/sys/fs/bpf/petrel-bpftest-" + std::to_string(getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name();
    auto dp = datapath::LoadedDatapath::load(pin_root_, loadOptions());
    ASSERT_TRUE(dp) << dp.status().toString();
    dp_ = std::move(dp.value());
    addEndpoint(kPodA);
    addEndpoint(kPodB);
  }

  void TearDown() override {
    dp_.reset();
    std::error_code ec;
    std::filesystem::remove_all(pin_root_, ec);
  }

  // The uplink programs' settings of a node with address `node_ip` and the pod CIDR of kPodA and
  // kPodB (10.200.0.0/24), written as the agent writes them (datapath::writeNatConfig, with its
  // flow timeouts), except for two things tests rely on: masquerading is off until a test sets
  // `masquerade`, and there are 100 ports (61000-61099), few enough for a test to use them up.
  nat_config& configureUplink(const std::string& node_ip) {
    datapath::UplinkSettings s;
    s.node_ip = *Ipv4Addr::parse(node_ip);
    s.pod_cidr = *Ipv4Cidr::parse("10.200.0.0/24");
    s.masquerade = false;
    s.ports = {61000, 61099};
    datapath::writeNatConfig(dp_->natConfig(), s);
    return dp_->natConfig();
  }

  // Another node's pod CIDR `base`/`prefix_len`, behind that node's address `node`.
  void addTunnel(const std::string& base, uint8_t prefix_len, const std::string& node) {
    tunnel_key key{};
    key.prefixlen = TUNNEL_KEY_PREFIX_BITS + prefix_len;
    key.family = PETREL_AF_INET;
    key.ip4 = Ipv4Addr::parse(base)->toNetwork();
    tunnel_info info{};
    info.ip4 = Ipv4Addr::parse(node)->toNetwork();
    info.family = PETREL_AF_INET;
    ASSERT_TRUE(dp_->tunnels().update(key, info).isOk());
  }

  void addEndpoint(const TestEndpoint& t) {
    core::Endpoint ep;
    ep.id = t.ifindex;
    ep.ip = *Ipv4Addr::parse(t.ip);
    ep.pod_mac = t.pod_mac;
    ep.host_mac = t.host_mac;
    auto info = datapath::makeEndpointInfo(ep, t.ifindex);
    ASSERT_TRUE(info) << info.status().toString();
    ASSERT_TRUE(dp_->endpoints().update(datapath::makeEndpointKey(ep.ip), *info).isOk());
  }

  virtual datapath::LoadOptions loadOptions() const { return {}; }

  // Runs the lxc program (or `prog_fd`) on `frame` as if it arrived on loopback.
  RunResult run(const std::vector<uint8_t>& frame, int prog_fd = -1) {
    RunResult r;
    r.out.resize(frame.size() + 256);
    __sk_buff ctx{}, ctx_out{};
    ctx.ifindex = kLoopbackIfindex;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = r.out.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()),
                .data_size_out = static_cast<uint32_t>(r.out.size()), .ctx_in = &ctx,
                .ctx_out = &ctx_out, .ctx_size_in = sizeof(ctx), .ctx_size_out = sizeof(ctx_out));
    int err = bpf_prog_test_run_opts(prog_fd >= 0 ? prog_fd : dp_->lxcProgramFd(), &opts);
    EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN failed: " << strerror(-err);
    r.verdict = static_cast<int>(opts.retval);
    r.out.resize(opts.data_size_out);
    r.mark = ctx_out.mark;
    return r;
  }

  uint64_t counter(uint32_t reason, uint32_t dir) {
    auto values = datapath::lookupPerCpu<metric_value>(
        dp_->metricsFd(), reason * METRIC_DIR_MAX + dir, PETREL_MAP_METRICS);
    EXPECT_TRUE(values) << values.status().toString();
    uint64_t packets = 0;
    if (values) {
      for (const auto& v : *values) packets += v.packets;
    }
    return packets;
  }

  std::string pin_root_;
  std::unique_ptr<datapath::LoadedDatapath> dp_;
};

}  // namespace petrel::bpftest
