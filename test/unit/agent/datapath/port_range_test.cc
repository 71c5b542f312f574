// --masquerade-port-range parsing: MIN-MAX within 1..65535, anything else a clear error.
#include <gtest/gtest.h>

#include "agent/datapath/uplink.h"

namespace petrel::datapath {
namespace {

TEST(PortRange, ParsesMinDashMax) {
  auto r = parsePortRange("61000-65535");
  ASSERT_TRUE(r) << r.status().toString();
  EXPECT_EQ(r->min, 61000);
  EXPECT_EQ(r->max, 65535);
  auto one = parsePortRange("7000-7000");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->min, one->max);
}

TEST(PortRange, RejectsWhatIsNotARange) {
  for (const char* bad : {"", "61000", "61000-", "-5", "0-10", "10-5", "1-65536", "1-2x", "a-b",
                          "1 2", "100-200-300"}) {
    auto r = parsePortRange(bad);
    ASSERT_FALSE(r) << "'" << bad << "' was accepted";
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("MIN-MAX"), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace petrel::datapath
