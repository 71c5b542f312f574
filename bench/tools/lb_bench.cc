// petrel-bench-lb: the pieces of bench/service_lb.sh (Service load balancing, Petrel's socket LB
// against kube-proxy-shaped iptables rules).
//
//   petrel-bench-lb serve --port P [--threads T]
//       Request/response server: reads one request, answers "ok <local address>\n" and closes
//       (HTTP/1.0 style, so the server holds TIME_WAIT and clients never run out of ports).
//   petrel-bench-lb program --pin-root DIR --services N [--repeat R] [--keep] [--cgroup DIR]
//       Loads the datapath with maps pinned under DIR and times BpfLbDatapath::apply() for N
//       Services of 2 backends each (from empty maps), then for N + 1 (one added), then for
//       nothing (all removed); R times. The states come from Service and EndpointSlice objects
//       through serviceFrontends(), which is timed too, alone and with the apply() of one added
//       Service (what the agent does on a change). With --keep the last round leaves N + 1 in the
//       maps, and with --cgroup the socket LB is attached to that cgroup (pinned links: it stays
//       after exit).
//   petrel-bench-lb detach --pin-root DIR
//   petrel-bench-lb iptables-rules --services N
//       Prints kube-proxy's nat table for the same N Services (iptables-restore input).
//   petrel-bench-lb connect --target IP:PORT [--count K | --seconds S] [--threads T]
//                           [--cgroup DIR] [--warmup W]
//       New connection per request: connect, send 16 bytes, read the answer to EOF, close.
//       Prints JSON: mean/p50/p99 in µs, connections/s, errors, answers per backend. With
//       --hook-stats PIN_ROOT also the socket LB's connect4 and sock_release programs' own run
//       time per call (kernel BPF stats, enabled through BPF_ENABLE_STATS only while this runs;
//       they slow every BPF program a little, so measure latency in runs without them).
//
// Services are the same for Petrel and iptables: Service i (0-based, "bench/svc-<i>", port 80,
// ClusterIP 10.96.0.10 + i) has the backends 10.128.0.0 + 2i and + 2i + 1 on port 8080, which
// nothing answers, except the last one (i == N, the one added), the Service the client measures:
// its backends are --backend (default 10.244.1.10 and 10.244.1.11), port --backend-port.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "agent/core/frontend_index.h"
#include "agent/core/lb_state.h"
#include "agent/core/service_frontends.h"
#include "agent/datapath/lb_datapath.h"
#include "agent/datapath/loader.h"
#include "agent/datapath/socket_lb.h"

namespace {

using Clock = std::chrono::steady_clock;
using petrel::Ipv4Addr;
namespace core = petrel::core;
namespace datapath = petrel::datapath;

constexpr uint32_t kServiceBase = (10u << 24) | (96u << 16) | 10u;  // 10.96.0.10
constexpr uint32_t kFakeBackendBase = (10u << 24) | (128u << 16);   // 10.128.0.0
constexpr uint16_t kServicePort = 80;
constexpr uint16_t kFakeBackendPort = 8080;

struct Shape {
  std::vector<std::string> backends{"10.244.1.10", "10.244.1.11"};
  uint16_t backend_port = 8080;
};

std::string ipString(uint32_t host_order) {
  return Ipv4Addr{host_order}.toString();
}

// The backends of Service i of a run with N Services before the added one.
std::vector<std::pair<std::string, uint16_t>> backendsOf(const Shape& shape, uint64_t i,
                                                         uint64_t n) {
  std::vector<std::pair<std::string, uint16_t>> out;
  if (i == n) {
    for (const auto& b : shape.backends) out.emplace_back(b, shape.backend_port);
  } else {
    for (uint32_t k = 0; k < 2; ++k) {
      out.emplace_back(ipString(kFakeBackendBase + static_cast<uint32_t>(2 * i) + k),
                       kFakeBackendPort);
    }
  }
  return out;
}

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string jsonList(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + fmt::format("{:.3f}", v[i]);
  return out + "]";
}

bool joinCgroup(const std::string& dir) {
  std::ofstream procs(dir + "/cgroup.procs");
  procs << getpid() << std::flush;
  return static_cast<bool>(procs);
}

// ---- program ----------------------------------------------------------------------------------

// Service i and its EndpointSlice as the informers hold them (names, labels, a selector, the
// endpoints' node and pod), so serviceFrontends() works on objects of a realistic size.
struct Objects {
  std::vector<petrel::k8s::Service> services;
  std::vector<petrel::k8s::EndpointSlice> slices;
};

Objects buildObjects(const Shape& shape, uint64_t count, uint64_t n) {
  Objects out;
  out.services.reserve(count);
  out.slices.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const std::string name = "svc-" + std::to_string(i);
    petrel::k8s::Service svc;
    svc.meta.name = name;
    svc.meta.namespace_ = "bench";
    svc.meta.uid = fmt::format("00000000-0000-4000-8000-{:012x}", i);
    svc.meta.resource_version = std::to_string(1000 + i);
    svc.meta.labels = {{"app", name}, {"app.kubernetes.io/part-of", "bench"}};
    svc.type = "ClusterIP";
    svc.cluster_ips = {Ipv4Addr{kServiceBase + static_cast<uint32_t>(i)}};
    svc.ports = {petrel::k8s::ServicePort{"http", "TCP", kServicePort, 0, "http", 0}};
    svc.selector = {{"app", name}};
    petrel::k8s::EndpointSlice slice;
    slice.meta.name = name + "-abcde";
    slice.meta.namespace_ = "bench";
    slice.meta.uid = fmt::format("00000000-0000-4000-9000-{:012x}", i);
    slice.meta.resource_version = std::to_string(2000 + i);
    slice.meta.labels = {{"kubernetes.io/service-name", name},
                         {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller"}};
    slice.service_name = name;
    slice.address_type = "IPv4";
    const auto backends = backendsOf(shape, i, n);
    for (size_t k = 0; k < backends.size(); ++k) {
      petrel::k8s::EndpointSlice::Endpoint ep;
      ep.addresses = {*Ipv4Addr::parse(backends[k].first)};
      ep.node_name = "node-" + std::to_string(k + 1);
      ep.pod_name = name + "-7d9c5b6f4-" + std::to_string(k);
      slice.endpoints.push_back(std::move(ep));
    }
    // All backends of one Service listen on the same port (the measured one's --backend-port).
    slice.ports = {{"http", "TCP", backends.front().second}};
    out.services.push_back(std::move(svc));
    out.slices.push_back(std::move(slice));
  }
  return out;
}

const petrel::core::LbNode kBenchNode{"node-1", {}};

core::LbState frontendsOf(const Objects& objects) {
  return petrel::core::serviceFrontends(objects.services, objects.slices, kBenchNode);
}

int program(const std::string& pin_root, uint64_t n, int repeat, bool keep,
            const std::string& cgroup, const Shape& shape) {
  auto dp = datapath::LoadedDatapath::load(pin_root);
  if (!dp) {
    std::fprintf(stderr, "petrel-bench-lb: load %s: %s\n", pin_root.c_str(),
                 dp.status().toString().c_str());
    return 1;
  }
  const Objects objects_all = buildObjects(shape, n, n);
  const Objects objects_plus_one = buildObjects(shape, n + 1, n);
  const core::LbState all = frontendsOf(objects_all);
  const core::LbState plus_one = frontendsOf(objects_plus_one);
  const core::LbState none;
  // all_ms, add_ms: apply() of a state built beforehand. agent_add_ms: the agent's sync after
  // one Service is added: that Service and its slice fetched (copies, as the informers hand
  // them out), its frontends recomputed in the agent's FrontendIndex, apply(). The agent's full
  // sync (start, repair pass): lists_ms, copying the object lists; frontends_ms,
  // serviceFrontends() over all N + 1 Services; full_sync_ms: both and apply().
  std::vector<double> all_ms, add_ms, clear_ms, frontends_ms, agent_add_ms, lists_ms, full_sync_ms;
  size_t add_written = 0, add_map_writes = 0;
  for (int r = 0; r < repeat; ++r) {
    // A fresh writer on empty maps: what an agent does at its first sync.
    datapath::BpfLbDatapath lb((*dp)->lbServices(), (*dp)->lbBackends());
    auto t0 = Clock::now();
    petrel::Status st = lb.apply(all);
    auto t1 = Clock::now();
    if (st.isOk()) st = lb.apply(plus_one);
    auto t2 = Clock::now();
    add_written = lb.lastApply().written;
    add_map_writes = lb.lastApply().map_writes;
    if (st.isOk()) st = lb.apply(all);  // back to N, then the same addition the agent's way
    petrel::core::FrontendIndex index;
    index.rebuild(objects_all.services, objects_all.slices, kBenchNode);  // the agent before it
    auto a0 = Clock::now();
    const petrel::k8s::Service added = objects_plus_one.services.back();
    const std::vector<petrel::k8s::EndpointSlice> its_slices{objects_plus_one.slices.back()};
    index.update(added.meta.key(), added, its_slices, kBenchNode);
    if (st.isOk()) st = lb.apply(index.state());
    auto a1 = Clock::now();
    if (st.isOk()) st = lb.apply(all);  // back to N, then the full sync of N + 1
    auto t3 = Clock::now();
    const Objects copies{objects_plus_one.services, objects_plus_one.slices};
    auto t4 = Clock::now();
    const core::LbState derived = frontendsOf(copies);
    auto t5 = Clock::now();
    if (st.isOk()) st = lb.apply(derived);
    auto t6 = Clock::now();
    if (!st.isOk()) {
      std::fprintf(stderr, "petrel-bench-lb: apply: %s\n", st.toString().c_str());
      return 1;
    }
    all_ms.push_back(msBetween(t0, t1));
    add_ms.push_back(msBetween(t1, t2));
    lists_ms.push_back(msBetween(t3, t4));
    frontends_ms.push_back(msBetween(t4, t5));
    agent_add_ms.push_back(msBetween(a0, a1));
    full_sync_ms.push_back(msBetween(t3, t6));
    if (keep && r == repeat - 1) break;
    auto t7 = Clock::now();
    st = lb.apply(none);
    clear_ms.push_back(msBetween(t7, Clock::now()));
    if (!st.isOk()) {
      std::fprintf(stderr, "petrel-bench-lb: clear: %s\n", st.toString().c_str());
      return 1;
    }
  }
  if (!cgroup.empty()) {
    auto st = datapath::attachSocketLb(**dp, cgroup);
    if (!st.isOk()) {
      std::fprintf(stderr, "petrel-bench-lb: attach to %s: %s\n", cgroup.c_str(),
                   st.toString().c_str());
      return 1;
    }
  }
  std::printf(
      "{\"services\":%llu,\"apply_all_ms\":%.3f,\"add_one_ms\":%.3f,\"remove_all_ms\":%.3f,"
      "\"frontends_ms\":%.3f,\"agent_add_one_ms\":%.3f,\"full_sync_ms\":%.3f,"
      "\"lists_copy_ms\":%.3f,"
      "\"add_one_written\":%zu,\"add_one_map_writes\":%zu,"
      "\"runs\":{\"apply_all_ms\":%s,\"add_one_ms\":%s,\"remove_all_ms\":%s,"
      "\"frontends_ms\":%s,\"agent_add_one_ms\":%s},\"target\":\"%s:%u\"}\n",
      static_cast<unsigned long long>(n), median(all_ms), median(add_ms), median(clear_ms),
      median(frontends_ms), median(agent_add_ms), median(full_sync_ms), median(lists_ms),
      add_written, add_map_writes, jsonList(all_ms).c_str(), jsonList(add_ms).c_str(),
      jsonList(clear_ms).c_str(), jsonList(frontends_ms).c_str(), jsonList(agent_add_ms).c_str(),
      ipString(kServiceBase + static_cast<uint32_t>(n)).c_str(), kServicePort);
  return 0;
}

// ---- iptables-rules ---------------------------------------------------------------------------

// kube-proxy's chain name suffix: base32 of sha256(text), first 16 characters.
std::string chainHash(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; out.size() < 16 && i < sizeof(digest); ++i) {
    buffer = (buffer << 8) | digest[i];
    bits += 8;
    while (bits >= 5 && out.size() < 16) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

// The nat table kube-proxy (iptables mode, 1.2x) writes for ClusterIP Services, in its order:
// chain declarations, then rules. Cluster CIDR 10.244.0.0/16 (masquerade off-cluster sources).
int iptablesRules(uint64_t n_total, uint64_t n, const Shape& shape) {
  std::string decl, rules;
  decl.reserve(n_total * 200);
  rules.reserve(n_total * 1200);
  decl += "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n";
  decl += ":POSTROUTING ACCEPT [0:0]\n";
  decl += ":KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-POSTROUTING - [0:0]\n";
  decl += ":KUBE-MARK-MASQ - [0:0]\n";
  rules += "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n";
  rules += "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n";
  rules +=
      "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n";
  rules += "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n";
  rules += "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n";
  rules +=
      "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j "
      "MASQUERADE --random-fully\n";
  rules += "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n";
  std::string svc_rules, chain_rules;
  for (uint64_t i = 0; i < n_total; ++i) {
    const std::string name = "bench/svc-" + std::to_string(i) + ":http";
    const std::string svc_chain = "KUBE-SVC-" + chainHash(name + "tcp");
    const std::string cip = ipString(kServiceBase + static_cast<uint32_t>(i));
    decl += ":" + svc_chain + " - [0:0]\n";
    svc_rules += fmt::format(
        "-A KUBE-SERVICES -d {}/32 -p tcp -m comment --comment \"{} cluster IP\" -m tcp --dport "
        "{} -j {}\n",
        cip, name, kServicePort, svc_chain);
    chain_rules += fmt::format(
        "-A {} ! -s 10.244.0.0/16 -d {}/32 -p tcp -m comment --comment \"{} cluster IP\" -m tcp "
        "--dport {} -j KUBE-MARK-MASQ\n",
        svc_chain, cip, name, kServicePort);
    const auto backends = backendsOf(shape, i, n);
    std::string sep_rules;
    for (size_t k = 0; k < backends.size(); ++k) {
      const auto& [ip, port] = backends[k];
      const std::string ep = fmt::format("{}:{}", ip, port);
      const std::string sep = "KUBE-SEP-" + chainHash(name + "tcp" + ep);
      decl += ":" + sep + " - [0:0]\n";
      const size_t left = backends.size() - k;
      if (left > 1) {
        chain_rules += fmt::format(
            "-A {} -m comment --comment \"{} -> {}\" -m statistic --mode random --probability "
            "{:.11f} -j {}\n",
            svc_chain, name, ep, 1.0 / static_cast<double>(left), sep);
      } else {
        chain_rules += fmt::format("-A {} -m comment --comment \"{} -> {}\" -j {}\n", svc_chain,
                                   name, ep, sep);
      }
      sep_rules +=
          fmt::format("-A {} -s {}/32 -m comment --comment {} -j KUBE-MARK-MASQ\n", sep, ip, name);
      sep_rules +=
          fmt::format("-A {} -p tcp -m comment --comment {} -m tcp -j DNAT --to-destination {}\n",
                      sep, name, ep);
    }
    chain_rules += sep_rules;
  }
  svc_rules +=
      "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be "
      "the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n";
  std::fwrite(decl.data(), 1, decl.size(), stdout);
  std::fwrite(rules.data(), 1, rules.size(), stdout);
  std::fwrite(svc_rules.data(), 1, svc_rules.size(), stdout);
  std::fwrite(chain_rules.data(), 1, chain_rules.size(), stdout);
  std::fputs("COMMIT\n", stdout);
  return 0;
}

// ---- serve ------------------------------------------------------------------------------------

int serve(uint16_t port, int threads) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 4096) != 0) {
    std::fprintf(stderr, "petrel-bench-lb: bind/listen :%u: %s\n", port, std::strerror(errno));
    return 1;
  }
  auto loop = [fd] {
    char buf[256];
    for (;;) {
      int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      int nodelay = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay));
      if (read(c, buf, sizeof(buf)) > 0) {
        sockaddr_in local{};
        socklen_t len = sizeof(local);
        getsockname(c, reinterpret_cast<sockaddr*>(&local), &len);
        char ip[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &local.sin_addr, ip, sizeof(ip));
        std::string answer = std::string("ok ") + ip + "\n";
        (void)!write(c, answer.data(), answer.size());
      }
      close(c);
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(loop);
  loop();
  return 0;
}

// ---- connect ----------------------------------------------------------------------------------

// The run time and count of the program behind the link pinned at `link_path`.
struct ProgStats {
  uint64_t ns = 0, runs = 0;
};
std::optional<ProgStats> progStats(const std::string& link_path) {
  int link_fd = bpf_obj_get(link_path.c_str());
  if (link_fd < 0) return std::nullopt;
  bpf_link_info link{};
  uint32_t len = sizeof(link);
  int err = bpf_obj_get_info_by_fd(link_fd, &link, &len);
  close(link_fd);
  if (err) return std::nullopt;
  int prog_fd = bpf_prog_get_fd_by_id(link.prog_id);
  if (prog_fd < 0) return std::nullopt;
  bpf_prog_info info{};
  len = sizeof(info);
  err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
  close(prog_fd);
  if (err) return std::nullopt;
  return ProgStats{info.run_time_ns, info.run_cnt};
}

// One request on a new connection; returns the backend that answered, "" on error.
std::string oneRequest(const sockaddr_in& target) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return "";
  std::string answer;
  static const char kRequest[16] = "GET / HTTP/1.0\n";
  if (connect(s, reinterpret_cast<const sockaddr*>(&target), sizeof(target)) == 0 &&
      write(s, kRequest, sizeof(kRequest)) == static_cast<ssize_t>(sizeof(kRequest))) {
    char buf[128];
    for (;;) {
      ssize_t n = read(s, buf, sizeof(buf));
      if (n <= 0) break;
      answer.append(buf, static_cast<size_t>(n));
    }
  }
  close(s);
  if (answer.rfind("ok ", 0) != 0 || answer.back() != '\n') return "";
  return answer.substr(3, answer.size() - 4);
}

int connectBench(const std::string& target_text, int count, double seconds, int threads, int warmup,
                 const std::string& cgroup, const std::string& stats_pin_root) {
  if (!cgroup.empty() && !joinCgroup(cgroup)) {
    std::fprintf(stderr, "petrel-bench-lb: cannot join cgroup %s\n", cgroup.c_str());
    return 1;
  }
  const auto colon = target_text.rfind(':');
  sockaddr_in target{};
  target.sin_family = AF_INET;
  if (colon == std::string::npos ||
      inet_pton(AF_INET, target_text.substr(0, colon).c_str(), &target.sin_addr) != 1) {
    std::fprintf(stderr, "petrel-bench-lb: bad --target %s\n", target_text.c_str());
    return 1;
  }
  target.sin_port = htons(static_cast<uint16_t>(std::stoi(target_text.substr(colon + 1))));
  for (int i = 0; i < warmup; ++i) oneRequest(target);

  // The hooks a connection runs, by the names of their link pins.
  const std::vector<std::string> hooks = {"connect4", "release"};
  int stats_fd = -1;
  std::vector<ProgStats> stats_before;
  if (!stats_pin_root.empty()) {
    stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    for (const auto& h : hooks) {
      auto st = progStats(stats_pin_root + "/links/sock_" + h);
      if (stats_fd < 0 || !st) {
        std::fprintf(stderr, "petrel-bench-lb: no BPF stats for %s/links/sock_%s\n",
                     stats_pin_root.c_str(), h.c_str());
        return 1;
      }
      stats_before.push_back(*st);
    }
  }
  std::mutex mu;
  std::vector<double> lat_us;
  std::map<std::string, uint64_t> backends;
  std::atomic<uint64_t> errors{0};
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto worker = [&](int quota) {
    std::vector<double> mine;
    std::map<std::string, uint64_t> seen;
    for (int i = 0; seconds > 0 ? Clock::now() < deadline : i < quota; ++i) {
      auto t0 = Clock::now();
      std::string backend = oneRequest(target);
      auto t1 = Clock::now();
      if (backend.empty()) {
        if (++errors > 100) break;
        continue;
      }
      mine.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      ++seen[backend];
    }
    std::lock_guard lock(mu);
    lat_us.insert(lat_us.end(), mine.begin(), mine.end());
    for (const auto& [b, c] : seen) backends[b] += c;
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back(worker, count / threads + (t < count % threads ? 1 : 0));
  }
  for (auto& t : pool) t.join();
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::string hook;
  if (stats_fd >= 0) {
    for (size_t i = 0; i < hooks.size(); ++i) {
      auto after = progStats(stats_pin_root + "/links/sock_" + hooks[i]);
      if (!after || after->runs <= stats_before[i].runs) continue;
      const uint64_t runs = after->runs - stats_before[i].runs;
      hook += fmt::format(
          ",\"{}_ns\":{:.1f},\"{}_runs\":{}", hooks[i],
          static_cast<double>(after->ns - stats_before[i].ns) / static_cast<double>(runs), hooks[i],
          runs);
    }
    close(stats_fd);
  }

  std::sort(lat_us.begin(), lat_us.end());
  auto pct = [&](double p) {
    if (lat_us.empty()) return 0.0;
    size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(lat_us.size()) + 0.999999);
    return lat_us[std::clamp<size_t>(i, 1, lat_us.size()) - 1];
  };
  double sum = 0;
  for (double v : lat_us) sum += v;
  std::string per_backend;
  for (const auto& [b, c] : backends) {
    per_backend += fmt::format("{}\"{}\":{}", per_backend.empty() ? "" : ",", b, c);
  }
  std::printf(
      "{\"target\":\"%s\",\"threads\":%d,\"connections\":%zu,\"errors\":%llu,\"mean_us\":%.2f,"
      "\"p50_us\":%.2f,\"p99_us\":%.2f,\"conn_per_s\":%.1f,\"backends\":{%s}%s}\n",
      target_text.c_str(), threads, lat_us.size(), static_cast<unsigned long long>(errors.load()),
      lat_us.empty() ? 0.0 : sum / static_cast<double>(lat_us.size()), pct(50), pct(99),
      static_cast<double>(lat_us.size()) / elapsed_s, per_backend.c_str(), hook.c_str());
  return lat_us.empty() || errors > 100 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"petrel-bench-lb: Service load-balancing benchmark pieces"};
  app.require_subcommand(1);
  Shape shape;
  auto add_shape = [&](CLI::App* sub) {
    sub->add_option("--backend", shape.backends, "backends of the measured (last) Service")
        ->expected(2);
    sub->add_option("--backend-port", shape.backend_port);
  };

  uint16_t port = 8080;
  int threads = 1;
  auto* serve_cmd = app.add_subcommand("serve", "request/response server");
  serve_cmd->add_option("--port", port);
  serve_cmd->add_option("--threads", threads);

  std::string pin_root, cgroup;
  uint64_t services = 1;
  int repeat = 1;
  bool keep = false;
  auto* program_cmd = app.add_subcommand("program", "time programming N Services into the maps");
  program_cmd->add_option("--pin-root", pin_root)->required();
  program_cmd->add_option("--services", services)->required();
  program_cmd->add_option("--repeat", repeat)->check(CLI::PositiveNumber);
  program_cmd->add_flag("--keep", keep, "leave N + 1 Services in the maps");
  program_cmd->add_option("--cgroup", cgroup, "attach the socket LB to this cgroup v2 dir");
  add_shape(program_cmd);

  auto* detach_cmd = app.add_subcommand("detach", "detach the socket LB pinned under a pin root");
  detach_cmd->add_option("--pin-root", pin_root)->required();

  bool plus_one = false;
  auto* rules_cmd = app.add_subcommand("iptables-rules", "kube-proxy's nat table for N Services");
  rules_cmd->add_option("--services", services)->required();
  rules_cmd->add_flag("--plus-one", plus_one, "with the added (measured) Service");
  add_shape(rules_cmd);

  std::string target;
  int count = 1000, warmup = 50;
  double seconds = 0;
  auto* connect_cmd = app.add_subcommand("connect", "new-connection request latency");
  connect_cmd->add_option("--target", target)->required();
  connect_cmd->add_option("--count", count);
  connect_cmd->add_option("--seconds", seconds, "run for this long instead of --count");
  connect_cmd->add_option("--threads", threads);
  connect_cmd->add_option("--warmup", warmup);
  connect_cmd->add_option("--cgroup", cgroup, "join this cgroup v2 dir first");
  std::string stats_pin_root;
  connect_cmd->add_option("--hook-stats", stats_pin_root,
                          "pin root of the attached socket LB: report connect4's run time");

  CLI11_PARSE(app, argc, argv);
  // Logs (the loader's, libbpf's) go to stderr: stdout carries the JSON.
  spdlog::set_default_logger(spdlog::stderr_color_st("petrel-bench-lb"));
  spdlog::set_level(spdlog::level::warn);
  if (*serve_cmd) return serve(port, std::max(threads, 1));
  if (*program_cmd) return program(pin_root, services, repeat, keep, cgroup, shape);
  if (*detach_cmd) {
    auto st = datapath::detachSocketLb(pin_root);
    if (!st.isOk()) std::fprintf(stderr, "petrel-bench-lb: %s\n", st.toString().c_str());
    return st.isOk() ? 0 : 1;
  }
  if (*rules_cmd) return iptablesRules(plus_one ? services + 1 : services, services, shape);
  return connectBench(target, count, seconds, std::max(threads, 1), warmup, cgroup, stats_pin_root);
}
