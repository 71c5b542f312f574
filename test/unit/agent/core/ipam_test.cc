// Unit tests for core::Ipam: no double allocation, idempotence, round-robin reuse, exhaustion.
#include "agent/core/ipam.h"

#include <set>

#include <gtest/gtest.h>

namespace petrel::core {
namespace {

Ipam makeIpam(const char* cidr) {
  return Ipam(*Ipv4Cidr::parse(cidr));
}

TEST(IpamTest, SkipsNetworkGatewayAndBroadcast) {
  auto ipam = makeIpam("10.244.0.0/29");  // .0 net, .1 gw, .7 bcast -> .2-.6
  EXPECT_EQ(ipam.capacity(), 5u);
  std::set<std::string> got;
  for (int i = 0; i < 5; ++i) {
    auto ip = ipam.allocate("c" + std::to_string(i));
    ASSERT_TRUE(ip) << ip.status().toString();
    got.insert(ip->toString());
  }
  EXPECT_EQ(got, (std::set<std::string>{"10.244.0.2", "10.244.0.3", "10.244.0.4", "10.244.0.5",
                                        "10.244.0.6"}));
  auto full = ipam.allocate("c5");
  ASSERT_FALSE(full);
  EXPECT_EQ(full.status().code(), Code::kResourceExhausted);
  EXPECT_NE(full.status().message().find("10.244.0.0/29"), std::string::npos);
}

TEST(IpamTest, AllocationIsIdempotentPerOwner) {
  auto ipam = makeIpam("10.244.0.0/24");
  auto a = ipam.allocate("abc/eth0");
  auto b = ipam.allocate("abc/eth0");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(ipam.allocated(), 1u);
}

TEST(IpamTest, ReleasedAddressIsReusedLast) {
  auto ipam = makeIpam("10.244.0.0/29");
  auto first = ipam.allocate("a");
  ASSERT_TRUE(first);
  ASSERT_TRUE(ipam.release("a"));
  // The next four allocations take every other free address before the released one.
  for (int i = 0; i < 4; ++i) {
    auto ip = ipam.allocate("n" + std::to_string(i));
    ASSERT_TRUE(ip);
    EXPECT_NE(*ip, *first);
  }
  auto last = ipam.allocate("again");
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, *first);
}

TEST(IpamTest, ReserveRestoresAndRejectsConflicts) {
  auto ipam = makeIpam("10.244.0.0/24");
  ASSERT_TRUE(ipam.reserve("a", *Ipv4Addr::parse("10.244.0.9")).isOk());
  EXPECT_EQ(ipam.reserve("b", *Ipv4Addr::parse("10.244.0.9")).code(), Code::kAlreadyExists);
  EXPECT_EQ(ipam.reserve("c", *Ipv4Addr::parse("10.244.0.1")).code(), Code::kInvalidArgument);
  EXPECT_EQ(ipam.reserve("c", *Ipv4Addr::parse("10.9.0.1")).code(), Code::kInvalidArgument);
  // Allocation steps over the reserved address.
  ipam.setCursor(9);
  auto ip = ipam.allocate("d");
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->toString(), "10.244.0.10");
}

TEST(IpamTest, CursorSurvivesAsState) {
  auto ipam = makeIpam("10.244.0.0/24");
  ASSERT_TRUE(ipam.allocate("a"));
  ASSERT_TRUE(ipam.allocate("b"));
  ipam.release("b");
  auto restarted = makeIpam("10.244.0.0/24");
  restarted.setCursor(ipam.cursor());
  ASSERT_TRUE(restarted.reserve("a", *ipam.lookup("a")).isOk());
  auto next = restarted.allocate("c");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->toString(), "10.244.0.4");  // not .3, which "b" may still hold somewhere
}

}  // namespace
}  // namespace petrel::core
