// SocketDestroyer on real sockets: TCP and connected UDP sockets to one backend address (also
// dual-stack IPv6 ones, through its IPv4-mapped address) are destroyed (the application sees
// ECONNABORTED) in this namespace and in another one entered by path; sockets to other addresses
// are left alone.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

#include "agent/datapath/socket_destroyer.h"
#include "common/unique_fd.h"

namespace petrel::bpftest {
namespace {

struct Pair {
  UniqueFd listener, client, server;
  uint16_t port = 0;
};

// A loopback TCP connection in the calling thread's namespace.
Pair tcpPair() {
  Pair p;
  p.listener = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(p.listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
  listen(p.listener.get(), 8);
  socklen_t len = sizeof(a);
  getsockname(p.listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
  p.port = ntohs(a.sin_port);
  p.client = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(connect(p.client.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  p.server = UniqueFd(accept4(p.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  return p;
}

int recvError(int fd) {
  char c;
  ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
  return n < 0 ? errno : 0;
}

class SocketDestroyerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "needs root (loads BPF programs): run as root";
    auto d = datapath::SocketDestroyer::load();
    ASSERT_TRUE(d) << d.status().toString();
    destroyer_ = std::move(*d);
  }
  std::unique_ptr<datapath::SocketDestroyer> destroyer_;
};

TEST_F(SocketDestroyerTest, DestroysTcpAndUdpSocketsToTheBackendOnly) {
  Pair target = tcpPair();
  Pair other = tcpPair();
  UniqueFd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(target.port);
  ASSERT_EQ(connect(udp.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);

  auto n = destroyer_->destroy(*Ipv4Addr::parse("127.0.0.1"), target.port, {""});
  ASSERT_TRUE(n) << n.status().toString();
  EXPECT_EQ(*n, 2u);  // the TCP client and the connected UDP socket
  EXPECT_EQ(recvError(target.client.get()), ECONNABORTED);
  EXPECT_EQ(recvError(udp.get()), ECONNABORTED);
  EXPECT_EQ(recvError(other.client.get()), EAGAIN);  // untouched
}

TEST_F(SocketDestroyerTest, DestroysDualStackSocketsConnectedThroughTheMappedAddress) {
  Pair target = tcpPair();
  UniqueFd v6(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(target.port);
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &a.sin6_addr);
  ASSERT_EQ(connect(v6.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
  UniqueFd accepted(accept4(target.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  auto n = destroyer_->destroy(*Ipv4Addr::parse("127.0.0.1"), target.port, {""});
  ASSERT_TRUE(n) << n.status().toString();
  EXPECT_EQ(*n, 2u);  // the IPv4 client and the dual-stack one
  EXPECT_EQ(recvError(v6.get()), ECONNABORTED);
  EXPECT_EQ(recvError(target.client.get()), ECONNABORTED);
}

TEST_F(SocketDestroyerTest, EntersOtherNamespacesByPath) {
  const std::string name = "petrel-bpftest-sd-" + std::to_string(getpid());
  ASSERT_EQ(system(("ip netns add " + name + " && ip -n " + name + " link set lo up").c_str()), 0);
  Pair inside;
  std::thread([&] {
    UniqueFd ns(open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
    if (setns(ns.get(), CLONE_NEWNET) == 0) inside = tcpPair();
  }).join();
  Pair here = tcpPair();
  auto n = destroyer_->destroy(*Ipv4Addr::parse("127.0.0.1"), inside.port,
                               {"/run/netns/" + name, "/run/netns/" + name + "-gone"});
  EXPECT_TRUE(n) << n.status().toString();
  if (n) {
    EXPECT_EQ(*n, 1u);
  }
  EXPECT_EQ(recvError(inside.client.get()), ECONNABORTED);
  if (here.port != inside.port) {
    EXPECT_EQ(recvError(here.client.get()), EAGAIN);
  }
  inside = Pair();
  EXPECT_EQ(system(("ip netns del " + name).c_str()), 0);
}

}  // namespace
}  // namespace petrel::bpftest
