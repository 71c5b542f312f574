// CidrPool: flag validation, lowest-free allocation, reservation reasons, release, and a random
// allocate/release sequence that must never hand out a CIDR twice.
#include "operator/cidr_pool.h"

#include <random>
#include <set>

#include <gtest/gtest.h>

namespace petrel::op {
namespace {

Ipv4Cidr cidr(const char* text) {
  auto c = Ipv4Cidr::parse(text);
  EXPECT_TRUE(c) << text;
  return c.value_or(Ipv4Cidr{});
}

TEST(CidrPool, RejectsBadShapes) {
  EXPECT_FALSE(CidrPool::create("10.244.0.0/16", 16));
  EXPECT_FALSE(CidrPool::create("10.244.0.0/16", 8));
  EXPECT_FALSE(CidrPool::create("10.244.0.0/16", 33));
  EXPECT_FALSE(CidrPool::create("10.244.0.1/16", 24));  // host bits
  EXPECT_FALSE(CidrPool::create("fd00::/48", 64));
  EXPECT_FALSE(CidrPool::create("10.0.0.0/8", 25));  // 2^17 node CIDRs
  auto st = CidrPool::create("fd00::/48", 64).status();
  EXPECT_NE(st.message().find("IPv4"), std::string::npos) << st.message();
  auto ok = CidrPool::create("10.0.0.0/8", 24);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->capacity(), 65536u);
}

TEST(CidrPool, AllocatesLowestFreeAndReusesReleased) {
  auto pool = CidrPool::create("10.244.0.0/16", 24);
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->allocate()->toString(), "10.244.0.0/24");
  EXPECT_EQ(pool->allocate()->toString(), "10.244.1.0/24");
  EXPECT_EQ(pool->allocate()->toString(), "10.244.2.0/24");
  EXPECT_TRUE(pool->release(cidr("10.244.1.0/24")));
  EXPECT_FALSE(pool->release(cidr("10.244.1.0/24")));
  EXPECT_EQ(pool->allocate()->toString(), "10.244.1.0/24");
  EXPECT_EQ(pool->allocate()->toString(), "10.244.3.0/24");
  EXPECT_EQ(pool->usedCount(), 4u);
}

TEST(CidrPool, ReserveSaysWhy) {
  auto pool = CidrPool::create("10.244.0.0/16", 24);
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->reserve(cidr("10.244.7.0/24")), CidrPool::Reserve::kOk);
  EXPECT_EQ(pool->reserve(cidr("10.244.7.0/24")), CidrPool::Reserve::kTaken);
  EXPECT_EQ(pool->reserve(cidr("10.245.7.0/24")), CidrPool::Reserve::kOutOfPool);
  EXPECT_EQ(pool->reserve(cidr("10.244.8.0/25")), CidrPool::Reserve::kWrongSize);
  EXPECT_EQ(pool->reserve(cidr("10.244.0.0/16")), CidrPool::Reserve::kWrongSize);
  EXPECT_TRUE(pool->used(cidr("10.244.7.0/24")));
  EXPECT_EQ(pool->allocate()->toString(), "10.244.0.0/24");
  EXPECT_FALSE(pool->release(cidr("10.245.7.0/24")));
}

TEST(CidrPool, ExhaustsThenRecovers) {
  auto pool = CidrPool::create("10.9.0.0/22", 24);
  ASSERT_TRUE(pool);
  std::set<std::string> got;
  for (int i = 0; i < 4; ++i) got.insert(pool->allocate()->toString());
  EXPECT_EQ(got,
            (std::set<std::string>{"10.9.0.0/24", "10.9.1.0/24", "10.9.2.0/24", "10.9.3.0/24"}));
  EXPECT_FALSE(pool->allocate());
  EXPECT_TRUE(pool->release(cidr("10.9.2.0/24")));
  EXPECT_EQ(pool->allocate()->toString(), "10.9.2.0/24");
  EXPECT_FALSE(pool->allocate());
}

TEST(CidrPool, RandomSequencesNeverGiveACidrTwice) {
  std::mt19937 rng(20261124);
  for (int round = 0; round < 20; ++round) {
    auto pool = CidrPool::create("10.244.0.0/20", 26);  // 64 node CIDRs
    ASSERT_TRUE(pool);
    std::set<Ipv4Cidr> held;
    for (int op = 0; op < 2000; ++op) {
      if (held.empty() || rng() % 3 != 0) {
        auto c = pool->allocate();
        if (held.size() == pool->capacity()) {
          EXPECT_FALSE(c);
          continue;
        }
        ASSERT_TRUE(c);
        ASSERT_TRUE(held.insert(*c).second) << "given twice: " << c->toString();
        ASSERT_TRUE(pool->release(*c) && pool->reserve(*c) == CidrPool::Reserve::kOk);
      } else {
        auto it = held.begin();
        std::advance(it, rng() % held.size());
        ASSERT_TRUE(pool->release(*it));
        held.erase(it);
      }
      ASSERT_EQ(pool->usedCount(), held.size());
    }
  }
}

}  // namespace
}  // namespace petrel::op
