// Unit tests for common/ip: IPv4, CIDR and MAC parsing and formatting.
#include "common/ip.h"

#include <gtest/gtest.h>

namespace petrel {
namespace {

TEST(Ipv4AddrTest, ParsesAndFormats) {
  auto a = Ipv4Addr::parse("10.244.0.7");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, 0x0af40007u);
  EXPECT_EQ(a->toString(), "10.244.0.7");
}

TEST(Ipv4AddrTest, RejectsMalformed) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.", "01.2.3.4", "a.b.c.d",
                          "1..2.3", " 1.2.3.4", "1.2.3.4 "}) {
    EXPECT_FALSE(Ipv4Addr::parse(bad)) << bad;
  }
}

TEST(Ipv4CidrTest, ParsesContainsAndSizes) {
  auto c = Ipv4Cidr::parse("10.244.1.0/24");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->size(), 256u);
  EXPECT_TRUE(c->contains(*Ipv4Addr::parse("10.244.1.255")));
  EXPECT_FALSE(c->contains(*Ipv4Addr::parse("10.244.2.0")));
  EXPECT_EQ(c->at(1).toString(), "10.244.1.1");
  EXPECT_EQ(c->toString(), "10.244.1.0/24");
}

TEST(Ipv4CidrTest, HostBitsRejectedUnlessAllowed) {
  EXPECT_FALSE(Ipv4Cidr::parse("10.244.1.5/24"));
  auto c = Ipv4Cidr::parse("10.244.1.5/24", /*allow_host_bits=*/true);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->base.toString(), "10.244.1.0");
  EXPECT_FALSE(Ipv4Cidr::parse("10.0.0.0/33"));
  EXPECT_FALSE(Ipv4Cidr::parse("10.0.0.0/"));
  EXPECT_FALSE(Ipv4Cidr::parse("10.0.0.0"));
}

TEST(MacTest, RoundTrips) {
  uint8_t mac[6];
  ASSERT_TRUE(parseMac("0a:58:0a:f4:00:07", mac));
  EXPECT_EQ(formatMac(mac), "0a:58:0a:f4:00:07");
  EXPECT_FALSE(parseMac("0a:58:0a:f4:00", mac));
  EXPECT_FALSE(parseMac("0a-58-0a-f4-00-07", mac));
  EXPECT_FALSE(parseMac("zz:58:0a:f4:00:07", mac));
}

}  // namespace
}  // namespace petrel
