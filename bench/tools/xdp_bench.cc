// petrel-bench-xdp: nanoseconds per packet of the XDP NodePort fast path, with
// BPF_PROG_TEST_RUN, beside a no-op XDP_TX program measured the same way in the same run.
//
//   petrel-bench-xdp [--packets N] [--rounds R]
//
// The kernel does not restore a packet between the repeats of one test run, so a repeated run
// would see its own rewritten output. Each packet is therefore one test run (repeat 1) of a
// fresh copy, and the kernel's own duration of that run is what is summed; the floor program
// is run the same way, so the per-call overhead cancels in the difference. Every case checks
// its verdict on every packet and, through the datapath's per-reason counters, that the
// program took the real path (service-forwarded-xdp counted once per packet).
//
// Cases, for a NodePort whose two backends are on another node:
//   floor        a program that only returns XDP_TX
//   established  a packet of a known connection (conntrack + NAT lookups, rewrite, FIB, XDP_TX)
//   new-flow     a connection's first packet (Maglev choice, conntrack and NAT entries created)
//   tunnel       an established connection's packet wrapped in VXLAN toward the backend's node
//   tc           the same established packet through the tc program, for comparison
// The FIB answers come from a network namespace of the tool's own (routes, permanent
// neighbours), removed at exit, as are the pinned maps.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "agent/datapath/lb_datapath.h"
#include "agent/datapath/loader.h"
#include "agent/datapath/uplink.h"
#include "common/unique_fd.h"
#include "reasons.h"
#include "test/bpf/packet_builder.h"

namespace {

using petrel::Ipv4Addr;
using petrel::bpftest::mac;
using petrel::bpftest::PacketBuilder;

constexpr const char* kNodeIp = "192.168.60.10";
constexpr uint16_t kNodePort = 30080;

struct Sample {
  std::vector<uint32_t> ns;  // the kernel's duration of each run
  uint64_t counted = 0;      // service-forwarded-xdp during the case
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "petrel-bench-xdp: %s\n", what.c_str());
  std::exit(1);
}

std::vector<uint8_t> packet(const std::string& client, uint16_t sport, uint8_t flags) {
  return PacketBuilder()
      .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
      .ipv4(client, kNodeIp, 60)
      .tcp(sport, kNodePort, flags)
      .payload("GET / HTTP/1.1\r\n\r\n")
      .build();
}

// One test run of `frame` (XDP when `xdp`, else tc); dies unless the verdict is `expect`.
uint32_t runOnce(int prog_fd, bool xdp, uint32_t ifindex, const std::vector<uint8_t>& frame,
                 int expect) {
  std::vector<uint8_t> out(frame.size() + 256);
  xdp_md xctx{};
  xctx.data_end = static_cast<uint32_t>(frame.size());
  xctx.ingress_ifindex = ifindex;
  __sk_buff sctx{};
  sctx.ifindex = ifindex;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()),
              .data_size_out = static_cast<uint32_t>(out.size()), .repeat = 1);
  if (xdp) {
    opts.ctx_in = &xctx;
    opts.ctx_size_in = sizeof(xctx);
  } else {
    opts.ctx_in = &sctx;
    opts.ctx_size_in = sizeof(sctx);
  }
  if (int err = bpf_prog_test_run_opts(prog_fd, &opts); err) {
    die(std::string("BPF_PROG_TEST_RUN: ") + std::strerror(-err));
  }
  if (static_cast<int>(opts.retval) != expect) {
    die("verdict " + std::to_string(opts.retval) + ", expected " + std::to_string(expect));
  }
  return opts.duration;
}

class Bench {
 public:
  Bench() {
    netns_ = "petrel-bench-xdp-" + std::to_string(getpid());
    pin_root_ = "/sys/fs/bpf/" + netns_;
    const std::string n = "ip -n " + netns_ + " ";
    const std::string setup =
        "ip netns add " + netns_ + " && " + n + "link set lo up && " + n +
        "link add up0 type veth peer name up1 && " + n + "link set up0 up && " + n +
        "link set up1 up && " + n + "addr add " + kNodeIp + "/24 dev up0 && " + n +
        "route add default via 192.168.60.1 && " + n +
        "route add 10.201.0.0/16 via 192.168.60.11 && " + n +
        "neigh add 192.168.60.1 lladdr 02:00:00:00:00:01 dev up0 nud permanent && " + n +
        "neigh add 192.168.60.11 lladdr 02:00:00:00:00:11 dev up0 nud permanent && ip netns "
        "exec " +
        netns_ + " sysctl -qw net.ipv4.ip_forward=1";
    if (std::system(setup.c_str()) != 0) die("cannot set up network namespace " + netns_);
    petrel::UniqueFd ns(open(("/run/netns/" + netns_).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns || setns(ns.get(), CLONE_NEWNET) != 0) die("cannot enter " + netns_);
    ifindex_ = if_nametoindex("up0");
    auto dp = petrel::datapath::LoadedDatapath::load(pin_root_);
    if (!dp) die(dp.status().toString());
    dp_ = std::move(dp.value());
    // As the agent configures a node (the default masquerade ports and flow timeouts); the
    // benchmark masquerades nothing.
    petrel::datapath::UplinkSettings settings;
    settings.node_ip = *Ipv4Addr::parse(kNodeIp);
    settings.pod_cidr = *petrel::Ipv4Cidr::parse("10.200.0.0/24");
    petrel::datapath::writeNatConfig(dp_->natConfig(), settings);
    lb_ = std::make_unique<petrel::datapath::BpfLbDatapath>(dp_->lbServices(), dp_->lbBackends());
    lb_->enableMaglev(dp_->lbMaglevFd(), dp_->maglevTableSize());
    petrel::core::LbService s;
    s.service = "bench/web";
    s.port_name = "http";
    s.kind = petrel::core::LbKind::kNodePort;
    for (const char* ip : {"10.201.5.9", "10.201.6.9"}) {
      petrel::core::LbBackend b;
      b.ip = *Ipv4Addr::parse(ip);
      b.port = 8080;
      s.backends.push_back(b);
    }
    auto st = lb_->apply({{{*Ipv4Addr::parse(kNodeIp), kNodePort, petrel::core::kProtoTcp}, s}});
    if (!st) die(st.toString());
    const bpf_insn tx[] = {{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_TX},
                           {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}};
    floor_ = petrel::UniqueFd(bpf_prog_load(BPF_PROG_TYPE_XDP, "floor_tx", "GPL", tx, 2, nullptr));
    if (!floor_) die(std::string("load the XDP_TX floor program: ") + std::strerror(errno));
  }
  ~Bench() {
    lb_.reset();
    dp_.reset();
    std::error_code ec;
    std::filesystem::remove_all(pin_root_, ec);
    (void)std::system(("ip netns del " + netns_ + " 2>/dev/null").c_str());
  }

  uint64_t forwardedXdp() {
    auto values = petrel::datapath::lookupPerCpu<metric_value>(
        dp_->metricsFd(), uint32_t{PETREL_LB_FORWARDED_XDP} * METRIC_DIR_MAX + METRIC_DIR_INGRESS,
        PETREL_MAP_METRICS);
    if (!values) die(values.status().toString());
    uint64_t n = 0;
    for (const auto& v : *values) n += v.packets;
    return n;
  }
  void forgetFlows() {
    for (auto* map : {&dp_->conntrack()}) {
      auto keys = map->keys();
      if (!keys) die(keys.status().toString());
      for (const auto& k : *keys) (void)map->remove(k);
    }
    auto keys = dp_->nat().keys();
    if (!keys) die(keys.status().toString());
    for (const auto& k : *keys) (void)dp_->nat().remove(k);
  }
  void setTunnel(bool on) {
    dp_->natConfig().tunnel_port = on ? htons(8472) : 0;
    tunnel_key key{};
    key.prefixlen = TUNNEL_KEY_PREFIX_BITS + 16;
    key.family = PETREL_AF_INET;
    key.ip4 = Ipv4Addr::parse("10.201.0.0")->toNetwork();
    if (!on) {
      (void)dp_->tunnels().remove(key);
      return;
    }
    tunnel_info info{};
    info.ip4 = Ipv4Addr::parse("192.168.60.11")->toNetwork();
    info.family = PETREL_AF_INET;
    if (auto st = dp_->tunnels().update(key, info); !st) die(st.toString());
  }

  Sample floor(int packets) {
    Sample s;
    const auto frame = packet("198.51.100.7", 50000, 0x10);
    for (int i = 0; i < packets; ++i)
      s.ns.push_back(runOnce(floor_.get(), true, ifindex_, frame, XDP_TX));
    return s;
  }
  // Packets of one connection already set up; `xdp` false runs the tc program instead.
  Sample established(int packets, bool xdp) {
    forgetFlows();
    const uint64_t before = forwardedXdp();
    runOnce(dp_->uplinkXdpFd(), true, ifindex_, packet("198.51.100.7", 50000, 0x02), XDP_TX);
    const auto ack = packet("198.51.100.7", 50000, 0x10);
    Sample s;
    for (int i = 0; i < packets; ++i) {
      s.ns.push_back(xdp ? runOnce(dp_->uplinkXdpFd(), true, ifindex_, ack, XDP_TX)
                         : runOnce(dp_->uplinkIngressFd(), false, ifindex_, ack, TC_ACT_REDIRECT));
    }
    s.counted = forwardedXdp() - before - 1;
    return s;
  }
  // Every packet opens a connection of its own; flows are forgotten (untimed) every 1000.
  Sample newFlows(int packets) {
    forgetFlows();
    std::vector<std::vector<uint8_t>> frames;
    for (int i = 0; i < 1000; ++i) {
      frames.push_back(
          packet("198.51." + std::to_string(100 + i % 100) + "." + std::to_string(1 + i / 100),
                 static_cast<uint16_t>(20000 + i), 0x02));
    }
    const uint64_t before = forwardedXdp();
    Sample s;
    for (int i = 0; i < packets; ++i) {
      if (i > 0 && i % 1000 == 0) forgetFlows();
      s.ns.push_back(runOnce(dp_->uplinkXdpFd(), true, ifindex_, frames[i % 1000], XDP_TX));
    }
    s.counted = forwardedXdp() - before;
    return s;
  }

 private:
  std::string netns_, pin_root_;
  uint32_t ifindex_ = 0;
  std::unique_ptr<petrel::datapath::LoadedDatapath> dp_;
  std::unique_ptr<petrel::datapath::BpfLbDatapath> lb_;
  petrel::UniqueFd floor_;
};

double mean(const std::vector<uint32_t>& v) {
  double sum = 0;
  for (auto x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

double median(std::vector<uint32_t> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int packets = 20000, rounds = 3;
  CLI::App app{"petrel-bench-xdp: ns per packet of the XDP NodePort path (BPF_PROG_TEST_RUN)"};
  app.add_option("--packets", packets, "Packets per case and round")
      ->check(CLI::Range(1000, 10000000));
  app.add_option("--rounds", rounds, "Rounds (cases interleaved; medians reported)")
      ->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  if (geteuid() != 0) die("run as root: it loads BPF programs and creates a network namespace");

  spdlog::set_level(spdlog::level::warn);  // stdout is the JSON result
  Bench bench;
  std::map<std::string, std::vector<double>> medians;
  for (int r = 0; r < rounds; ++r) {
    bench.setTunnel(false);
    std::map<std::string, Sample> s;
    s["floor"] = bench.floor(packets);
    s["established"] = bench.established(packets, true);
    s["new-flow"] = bench.newFlows(packets);
    s["tc"] = bench.established(packets, false);
    bench.setTunnel(true);
    s["tunnel"] = bench.established(packets, true);
    for (const char* c : {"established", "new-flow", "tunnel"}) {
      if (s[c].counted != static_cast<uint64_t>(packets)) {
        die(std::string(c) + ": service-forwarded-xdp counted " + std::to_string(s[c].counted) +
            " of " + std::to_string(packets) + " packets: not every run took the XDP path");
      }
    }
    for (auto& [name, sample] : s) {
      medians[name].push_back(median(sample.ns));
      medians[name + "/mean"].push_back(mean(sample.ns));
    }
  }
  auto mid = [&](const std::string& k) {
    auto v = medians[k];
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  nlohmann::json out;
  out["packets_per_case"] = packets;
  out["rounds"] = rounds;
  const double floor_ns = mid("floor");
  for (const char* c : {"floor", "established", "new-flow", "tunnel", "tc"}) {
    out[c] = {{"median_ns", mid(c)},
              {"mean_ns", mid(std::string(c) + "/mean")},
              {"above_floor_ns", mid(c) - floor_ns}};
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
