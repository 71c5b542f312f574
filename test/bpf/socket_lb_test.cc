// BPF program tests for socket-level Service load balancing. The sock programs are attached to a
// fresh cgroup v2 directory this test process joins; real sockets then connect and send to a
// frontend address and reach loopback listeners standing in for backends. Checks: the backend
// is reached and getpeername()/recvfrom() show the frontend (kept in the socket's array slot until
// close, or in the LRU map when another socket holds that slot), choices spread over backends,
// sessionAffinity sticks, a frontend without backends is refused with ECONNREFUSED at once,
// dual-stack IPv6 sockets reach IPv4 Services through IPv4-mapped addresses, other addresses
// pass untouched, and full maps are counted (a send whose frontend cannot be kept is refused, a
// client affinity cannot be kept for still connects).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>

#include "agent/datapath/socket_lb.h"
#include "common/unique_fd.h"
#include "reasons.h"
#include "test/bpf/program_fixture.h"

namespace petrel::bpftest {
namespace {

constexpr const char* kFrontend = "10.96.0.10";
constexpr uint16_t kFrontendPort = 80;

sockaddr_in addr(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// An IPv6 socket address holding the IPv4-mapped ::ffff:ip.
sockaddr_in6 mapped(const std::string& ip, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ("::ffff:" + ip).c_str(), &a.sin6_addr);
  return a;
}

std::string describe(const sockaddr_in6& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof(buf));
  return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a.sin6_port));
}

std::string describe(const sockaddr_in& a) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a.sin_addr, buf, sizeof(buf));
  return std::string(buf) + ":" + std::to_string(ntohs(a.sin_port));
}

// A loopback socket on an ephemeral port: a TCP listener or a bound UDP socket.
struct Backend {
  UniqueFd fd;
  uint16_t port = 0;
  explicit Backend(int type) : fd(socket(AF_INET, type | SOCK_CLOEXEC, 0)) {
    sockaddr_in a = addr("127.0.0.1", 0);
    EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    if (type == SOCK_STREAM) {
      EXPECT_EQ(listen(fd.get(), 128), 0);
    }
    socklen_t len = sizeof(a);
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  // Accepts every pending connection; returns how many there were.
  int drain() {
    int n = 0;
    while (pollOne(0)) {
      UniqueFd c(accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) break;
      ++n;
    }
    return n;
  }
  bool pollOne(int timeout_ms) {
    pollfd p{fd.get(), POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1;
  }
};

class SocketLbTest : public ProgramTest {
 protected:
  void SetUp() override {
    ProgramTest::SetUp();
    if (HasFatalFailure()) return;
    auto root = datapath::resolveCgroupRoot("");
    ASSERT_TRUE(root) << root.status().toString();
    cgroup_root_ = *root;
    original_ = cgroup_root_ + currentCgroup();
    cgroup_ = cgroup_root_ + "/petrel-bpftest-" + std::to_string(getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(std::filesystem::create_directory(cgroup_)) << cgroup_;
    auto st = datapath::attachSocketLb(*dp_, cgroup_);
    ASSERT_TRUE(st.isOk()) << st.toString();
    ASSERT_TRUE(joinCgroup(cgroup_)) << "cannot join " << cgroup_;
  }
  void TearDown() override {
    EXPECT_TRUE(joinCgroup(original_)) << "cannot go back to " << original_;
    EXPECT_TRUE(datapath::detachSocketLb(pin_root_).isOk());
    if (!cgroup_.empty()) {
      EXPECT_EQ(rmdir(cgroup_.c_str()), 0) << cgroup_ << ": " << strerror(errno);
    }
    ProgramTest::TearDown();
  }
  static std::string currentCgroup() {
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("0::", 0) == 0) return line.substr(3) == "/" ? "" : line.substr(3);
    }
    return "";
  }
  static bool joinCgroup(const std::string& dir) {
    std::ofstream procs(dir + "/cgroup.procs");
    procs << getpid() << std::flush;
    return static_cast<bool>(procs);
  }
  // Frontend `frontend`:kFrontendPort/proto with the given loopback backends (ids from 1).
  void addService(uint8_t proto, const std::vector<uint16_t>& backend_ports, uint8_t flags = 0,
                  uint8_t backend_flags = 0, const char* frontend = kFrontend,
                  uint16_t service_id = 7) {
    lb_service_key key{};
    key.address = inet_addr(frontend);
    key.port = htons(kFrontendPort);
    key.proto = proto;
    for (size_t i = 0; i < backend_ports.size(); ++i) {
      const uint32_t id = next_backend_id_++;
      lb_backend b{};
      b.address = inet_addr("127.0.0.1");
      b.port = htons(backend_ports[i]);
      b.proto = proto;
      b.flags = backend_flags;
      ASSERT_TRUE(dp_->lbBackends().update(id, b).isOk());
      key.slot = static_cast<uint16_t>(i + 1);
      lb_service_value slot{};
      slot.backend_id = id;
      slot.backend_address = b.address;
      slot.backend_port = b.port;
      ASSERT_TRUE(dp_->lbServices().update(key, slot).isOk());
    }
    key.slot = 0;
    lb_service_value master{};
    master.count = static_cast<uint16_t>(backend_ports.size());
    master.service_id = service_id;
    master.flags = flags;
    master.affinity_timeout = 60;
    master.kind = LB_KIND_CLUSTER_IP;
    ASSERT_TRUE(dp_->lbServices().update(key, master).isOk());
  }
  // connect() to the frontend; returns errno (0 on success) and the peer name seen.
  int connectFrontend(std::string* peer = nullptr) {
    UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = addr(kFrontend, kFrontendPort);
    if (connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return errno;
    if (peer) {
      sockaddr_in p{};
      socklen_t len = sizeof(p);
      getpeername(s.get(), reinterpret_cast<sockaddr*>(&p), &len);
      *peer = describe(p);
    }
    return 0;
  }

  std::string cgroup_root_, original_, cgroup_;
  uint32_t next_backend_id_ = 1;
};

TEST_F(SocketLbTest, ConnectReachesABackendAndGetpeernameShowsTheFrontend) {
  Backend a(SOCK_STREAM);
  addService(IPPROTO_TCP, {a.port});
  std::string peer;
  ASSERT_EQ(connectFrontend(&peer), 0) << strerror(errno);
  EXPECT_EQ(peer, std::string(kFrontend) + ":80");
  EXPECT_EQ(a.drain(), 1);
  // A connected socket keeps its frontend in its slot of the array, not in the shared LRU map.
  UniqueFd revnat(bpf_obj_get((pin_root_ + "/" PETREL_MAP_LB_SOCK_REVNAT).c_str()));
  ASSERT_TRUE(revnat) << strerror(errno);
  lb_sock_revnat_key first{};
  EXPECT_NE(bpf_map_get_next_key(revnat.get(), nullptr, &first), 0) << "an LRU entry was written";
}

uint64_t socketCookie(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len), 0) << strerror(errno);
  return cookie;
}

uint32_t frontendSlot(uint64_t cookie) {
  return static_cast<uint32_t>(cookie & (PETREL_LB_SOCK_FRONTEND_SLOTS - 1));
}

TEST_F(SocketLbTest, AConnectedSocketsSlotHoldsItsFrontendUntilItCloses) {
  Backend a(SOCK_STREAM);
  addService(IPPROTO_TCP, {a.port});
  UniqueFd slots(bpf_obj_get((pin_root_ + "/" PETREL_MAP_LB_SOCK_FRONTEND).c_str()));
  ASSERT_TRUE(slots) << strerror(errno);
  auto s = std::make_unique<UniqueFd>(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const uint64_t cookie = socketCookie(s->get());
  const uint32_t index = frontendSlot(cookie);
  sockaddr_in f = addr(kFrontend, kFrontendPort);
  ASSERT_EQ(connect(s->get(), reinterpret_cast<sockaddr*>(&f), sizeof(f)), 0) << strerror(errno);
  lb_sock_frontend slot{};
  ASSERT_EQ(bpf_map_lookup_elem(slots.get(), &index, &slot), 0);
  EXPECT_EQ(slot.cookie, cookie);
  EXPECT_EQ(slot.address, inet_addr(kFrontend));
  EXPECT_EQ(slot.port, htons(kFrontendPort));
  EXPECT_EQ(slot.backend, inet_addr("127.0.0.1"));
  EXPECT_EQ(slot.backend_port, htons(a.port));
  s.reset();  // close(): the sock_release hook frees the slot
  ASSERT_EQ(bpf_map_lookup_elem(slots.get(), &index, &slot), 0);
  EXPECT_EQ(slot.cookie, 0u) << "the closed socket's slot was not freed";
  EXPECT_EQ(a.drain(), 1);
}

TEST_F(SocketLbTest, ASocketWhoseSlotIsTakenKeepsItsFrontendInTheLruMap) {
  Backend a(SOCK_STREAM);
  addService(IPPROTO_TCP, {a.port});
  UniqueFd slots(bpf_obj_get((pin_root_ + "/" PETREL_MAP_LB_SOCK_FRONTEND).c_str()));
  UniqueFd revnat(bpf_obj_get((pin_root_ + "/" PETREL_MAP_LB_SOCK_REVNAT).c_str()));
  ASSERT_TRUE(slots && revnat) << strerror(errno);
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const uint64_t cookie = socketCookie(s.get());
  const uint32_t index = frontendSlot(cookie);
  // Another live socket, whose cookie shares the slot, holds it.
  lb_sock_frontend other{};
  other.cookie = cookie + PETREL_LB_SOCK_FRONTEND_SLOTS;
  other.address = inet_addr("10.96.9.9");
  ASSERT_EQ(bpf_map_update_elem(slots.get(), &index, &other, BPF_ANY), 0);
  sockaddr_in f = addr(kFrontend, kFrontendPort);
  ASSERT_EQ(connect(s.get(), reinterpret_cast<sockaddr*>(&f), sizeof(f)), 0) << strerror(errno);
  sockaddr_in p{};
  socklen_t len = sizeof(p);
  ASSERT_EQ(getpeername(s.get(), reinterpret_cast<sockaddr*>(&p), &len), 0);
  EXPECT_EQ(describe(p), std::string(kFrontend) + ":80");
  lb_sock_frontend slot{};
  ASSERT_EQ(bpf_map_lookup_elem(slots.get(), &index, &slot), 0);
  EXPECT_EQ(slot.cookie, other.cookie) << "the holder's slot was overwritten";
  EXPECT_EQ(slot.address, other.address);
  lb_sock_revnat_key key{};
  key.cookie = cookie;
  key.address = inet_addr("127.0.0.1");
  key.port = htons(a.port);
  lb_sock_revnat_value value{};
  ASSERT_EQ(bpf_map_lookup_elem(revnat.get(), &key, &value), 0) << "no LRU entry for the socket";
  EXPECT_EQ(value.address, inet_addr(kFrontend));
  EXPECT_EQ(a.drain(), 1);
}

TEST_F(SocketLbTest, AnOlderAgentsSocketFrontendsOfAnotherMapTypeDoNotStopTheLoad) {
  dp_.reset();
  const std::string path = pin_root_ + "/" PETREL_MAP_LB_SOCK_FRONTEND;
  ASSERT_EQ(unlink(path.c_str()), 0) << strerror(errno);
  // (The older agent's was socket-local storage, which cannot be made without BTF here; any
  // other type takes the same path.)
  UniqueFd old(bpf_map_create(BPF_MAP_TYPE_HASH, "petrel_lb_sock_", sizeof(int), 12, 16, nullptr));
  ASSERT_TRUE(old) << strerror(errno);
  ASSERT_EQ(bpf_obj_pin(old.get(), path.c_str()), 0) << strerror(errno);
  auto dp = datapath::LoadedDatapath::load(pin_root_, {});
  ASSERT_TRUE(dp) << dp.status().toString();
  dp_ = std::move(dp.value());
  UniqueFd now(bpf_obj_get(path.c_str()));
  ASSERT_TRUE(now) << strerror(errno);
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd(now.get(), &info, &len), 0);
  EXPECT_EQ(info.type, BPF_MAP_TYPE_ARRAY);
}

TEST_F(SocketLbTest, NewConnectionsSpreadOverTheBackends) {
  Backend a(SOCK_STREAM), b(SOCK_STREAM);
  addService(IPPROTO_TCP, {a.port, b.port});
  for (int i = 0; i < 40; ++i) ASSERT_EQ(connectFrontend(), 0);
  const int to_a = a.drain(), to_b = b.drain();
  EXPECT_EQ(to_a + to_b, 40);
  EXPECT_GT(to_a, 0);  // all 40 on one side: chance 2^-39
  EXPECT_GT(to_b, 0);
}

TEST_F(SocketLbTest, SessionAffinityKeepsTheClientOnOneBackend) {
  Backend a(SOCK_STREAM), b(SOCK_STREAM);
  addService(IPPROTO_TCP, {a.port, b.port}, LB_SVC_F_AFFINITY);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(connectFrontend(), 0);
  const int to_a = a.drain(), to_b = b.drain();
  EXPECT_TRUE((to_a == 20 && to_b == 0) || (to_a == 0 && to_b == 20)) << to_a << " / " << to_b;
}

// When every backend is terminating (serving, none ready: the writer then offers those), the
// client stays with its terminating backend; otherwise a terminating one would take no new
// connections at all.
TEST_F(SocketLbTest, SessionAffinityHoldsAmongTerminatingBackendsWhenThereAreNoOthers) {
  Backend a(SOCK_STREAM), b(SOCK_STREAM);
  addService(IPPROTO_TCP, {a.port, b.port}, LB_SVC_F_AFFINITY | LB_SVC_F_TERMINATING_ONLY,
             LB_BACKEND_F_TERMINATING);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(connectFrontend(), 0);
  const int to_a = a.drain(), to_b = b.drain();
  EXPECT_TRUE((to_a == 20 && to_b == 0) || (to_a == 0 && to_b == 20)) << to_a << " / " << to_b;
}

// Past its timeout (60 s here) the client's backend is forgotten: each connection after an
// expiry chooses afresh, so over 20 expiries both backends are chosen.
TEST_F(SocketLbTest, SessionAffinityEndsAfterItsTimeout) {
  Backend a(SOCK_STREAM), b(SOCK_STREAM);
  addService(IPPROTO_TCP, {a.port, b.port}, LB_SVC_F_AFFINITY);
  auto affinity = datapath::BpfMap<lb_affinity_key, lb_affinity_value>::openPinned(
      dp_->pinRoot() + "/" PETREL_MAP_LB_AFFINITY);
  ASSERT_TRUE(affinity) << affinity.status().toString();
  for (int i = 0; i < 20; ++i) {
    auto keys = affinity->keys();
    ASSERT_TRUE(keys) << keys.status().toString();
    for (const auto& key : *keys) {  // last used 61 s ago
      auto v = affinity->lookup(key);
      ASSERT_TRUE(v);
      v->last_used_ns -= 61ull * 1000000000ull;
      ASSERT_TRUE(affinity->update(key, *v).isOk());
    }
    ASSERT_EQ(connectFrontend(), 0);
  }
  EXPECT_GT(a.drain(), 0);
  EXPECT_GT(b.drain(), 0);
}

TEST_F(SocketLbTest, AFrontendWithoutBackendsIsRefusedAtOnce) {
  addService(IPPROTO_TCP, {});
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(connectFrontend(), ECONNREFUSED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  // UDP too: the send itself is refused.
  addService(IPPROTO_UDP, {});
  UniqueFd u(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in f = addr(kFrontend, kFrontendPort);
  EXPECT_EQ(sendto(u.get(), "q", 1, 0, reinterpret_cast<sockaddr*>(&f), sizeof(f)), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
}

TEST_F(SocketLbTest, UdpIsTranslatedBothWays) {
  Backend server(SOCK_DGRAM);
  addService(IPPROTO_UDP, {server.port});
  UniqueFd client(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in f = addr(kFrontend, kFrontendPort);
  ASSERT_EQ(sendto(client.get(), "query", 5, 0, reinterpret_cast<sockaddr*>(&f), sizeof(f)), 5);
  ASSERT_TRUE(server.pollOne(1000)) << "the backend got nothing";
  char buf[16];
  sockaddr_in from{};
  socklen_t len = sizeof(from);
  ASSERT_EQ(
      recvfrom(server.fd.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len), 5);
  ASSERT_EQ(sendto(server.fd.get(), "answer", 6, 0, reinterpret_cast<sockaddr*>(&from), len), 6);
  sockaddr_in reply_from{};
  len = sizeof(reply_from);
  ASSERT_EQ(
      recvfrom(client.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&reply_from), &len),
      6);
  EXPECT_EQ(describe(reply_from), std::string(kFrontend) + ":80");  // not the backend's address
}

// A dual-stack IPv6 socket reaches an IPv4 Service through its IPv4-mapped address (as Java's
// sockets do), TCP and UDP, and sees the frontend as its peer.
TEST_F(SocketLbTest, DualStackSocketsReachIpv4ServicesThroughMappedAddresses) {
  Backend tcp(SOCK_STREAM);
  addService(IPPROTO_TCP, {tcp.port});
  UniqueFd s(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(s) << strerror(errno);
  sockaddr_in6 f = mapped(kFrontend, kFrontendPort);
  ASSERT_EQ(connect(s.get(), reinterpret_cast<sockaddr*>(&f), sizeof(f)), 0) << strerror(errno);
  sockaddr_in6 p{};
  socklen_t len = sizeof(p);
  ASSERT_EQ(getpeername(s.get(), reinterpret_cast<sockaddr*>(&p), &len), 0);
  EXPECT_EQ(describe(p), "[::ffff:" + std::string(kFrontend) + "]:80");
  EXPECT_EQ(tcp.drain(), 1);

  Backend udp(SOCK_DGRAM);
  addService(IPPROTO_UDP, {udp.port});
  UniqueFd client(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(sendto(client.get(), "query", 5, 0, reinterpret_cast<sockaddr*>(&f), sizeof(f)), 5)
      << strerror(errno);
  ASSERT_TRUE(udp.pollOne(1000)) << "the backend got nothing";
  char buf[16];
  sockaddr_in from{};
  len = sizeof(from);
  ASSERT_EQ(recvfrom(udp.fd.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len),
            5);
  ASSERT_EQ(sendto(udp.fd.get(), "answer", 6, 0, reinterpret_cast<sockaddr*>(&from), len), 6);
  sockaddr_in6 reply_from{};
  len = sizeof(reply_from);
  ASSERT_EQ(
      recvfrom(client.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&reply_from), &len),
      6);
  EXPECT_EQ(describe(reply_from), "[::ffff:" + std::string(kFrontend) + "]:80");
}

TEST_F(SocketLbTest, OtherAddressesPassUntouched) {
  Backend a(SOCK_STREAM);
  addService(IPPROTO_TCP, {a.port});
  Backend direct(SOCK_STREAM);
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in d = addr("127.0.0.1", direct.port);
  ASSERT_EQ(connect(s.get(), reinterpret_cast<sockaddr*>(&d), sizeof(d)), 0);
  sockaddr_in p{};
  socklen_t len = sizeof(p);
  getpeername(s.get(), reinterpret_cast<sockaddr*>(&p), &len);
  EXPECT_EQ(describe(p), "127.0.0.1:" + std::to_string(direct.port));
  EXPECT_EQ(direct.drain(), 1);
  EXPECT_EQ(a.drain(), 0);
}

// Full maps at the socket layer (docs/decisions.md, "Full maps"), made tiny plain hashes: they
// refuse an insert whenever full, where the real LRU maps refuse only when they find nothing to
// evict.
class SocketLbFullMapsTest : public SocketLbTest {
 protected:
  datapath::LoadOptions loadOptions() const override {
    datapath::LoadOptions o;
    o.map_resizes = {{PETREL_MAP_LB_SOCK_REVNAT, 1, BPF_MAP_TYPE_HASH},
                     {PETREL_MAP_LB_AFFINITY, 1, BPF_MAP_TYPE_HASH}};
    return o;
  }
};

// An unconnected socket's frontend lives only in the LRU map: without it recvfrom() would show
// the backend, and a client that checks who answered (a DNS resolver) would wait in vain.
TEST_F(SocketLbFullMapsTest, ASendWhoseFrontendCannotBeKeptIsRefusedWithEnobufs) {
  Backend server(SOCK_DGRAM);
  addService(IPPROTO_UDP, {server.port});
  sockaddr_in f = addr(kFrontend, kFrontendPort);
  UniqueFd first(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  UniqueFd second(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(sendto(first.get(), "a", 1, 0, reinterpret_cast<sockaddr*>(&f), sizeof(f)), 1)
      << strerror(errno);  // its entry fills the map
  const uint64_t before = counter(PETREL_DROP_SOCK_REVNAT_MAP_FULL, METRIC_DIR_EGRESS);
  EXPECT_EQ(sendto(second.get(), "b", 1, 0, reinterpret_cast<sockaddr*>(&f), sizeof(f)), -1);
  EXPECT_EQ(errno, ENOBUFS);
  EXPECT_EQ(counter(PETREL_DROP_SOCK_REVNAT_MAP_FULL, METRIC_DIR_EGRESS), before + 1);
  // The socket that has its entry goes on.
  EXPECT_EQ(sendto(first.get(), "c", 1, 0, reinterpret_cast<sockaddr*>(&f), sizeof(f)), 1)
      << strerror(errno);
}

// sessionAffinity is kept where it can be; a connection whose client the map has no room for
// still connects (counted), and the client's next connection may get another backend.
TEST_F(SocketLbFullMapsTest, AConnectionTheAffinityMapRefusesStillConnects) {
  Backend a(SOCK_STREAM), b(SOCK_STREAM);
  addService(IPPROTO_TCP, {a.port}, LB_SVC_F_AFFINITY);
  addService(IPPROTO_TCP, {b.port}, LB_SVC_F_AFFINITY, 0, "10.96.0.11", 8);
  ASSERT_EQ(connectFrontend(), 0);  // this namespace's entry for service 7 fills the map
  const uint64_t before = counter(PETREL_LB_AFFINITY_MAP_FULL, METRIC_DIR_EGRESS);
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in other = addr("10.96.0.11", kFrontendPort);
  EXPECT_EQ(connect(s.get(), reinterpret_cast<sockaddr*>(&other), sizeof(other)), 0)
      << strerror(errno);
  EXPECT_EQ(counter(PETREL_LB_AFFINITY_MAP_FULL, METRIC_DIR_EGRESS), before + 1);
  EXPECT_EQ(a.drain(), 1);
  EXPECT_EQ(b.drain(), 1);
}

}  // namespace
}  // namespace petrel::bpftest
