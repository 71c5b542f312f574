// Maglev tables: every entry filled, shares even, little disruption when a backend goes or comes,
// the same table for the same backends in any process, and table sizes checked.
#include <gtest/gtest.h>

#include "agent/core/maglev.h"

namespace petrel::core {
namespace {

std::vector<std::string> backends(int n, int first = 0) {
  std::vector<std::string> out;
  for (int i = first; i < first + n; ++i)
    out.push_back("10.244." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 2) +
                  ":8080");
  return out;
}

TEST(Maglev, EveryBackendGetsAnEvenShare) {
  const uint32_t m = kDefaultMaglevTableSize;
  auto table = maglevTable(backends(10), m);
  ASSERT_EQ(table.size(), m);
  std::vector<int> share(10, 0);
  for (uint32_t b : table) {
    ASSERT_LT(b, 10u);
    ++share[b];
  }
  for (int s : share) {
    EXPECT_NEAR(s, m / 10.0, m / 10.0 * 0.03) << "shares must be within 3% of M/n";
  }
}

TEST(Maglev, RemovingABackendMovesLittleMoreThanItsShare) {
  const uint32_t m = kDefaultMaglevTableSize;
  auto before_names = backends(10);
  auto before = maglevTable(before_names, m);
  auto after_names = before_names;
  after_names.erase(after_names.begin() + 3);
  auto after = maglevTable(after_names, m);
  int moved = 0;
  for (uint32_t i = 0; i < m; ++i) {
    if (before_names[before[i]] != after_names[after[i]]) ++moved;
  }
  // Its own ~10% must move; the algorithm's bound allows a little more, not a reshuffle.
  EXPECT_GT(moved, int(m * 0.09));
  EXPECT_LT(moved, int(m * 0.15)) << moved << " of " << m << " entries moved";
}

TEST(Maglev, TheSameBackendsGiveTheSameTable) {
  EXPECT_EQ(maglevTable(backends(5), 251), maglevTable(backends(5), 251));
  EXPECT_TRUE(maglevTable({}, 251).empty());
  auto one = maglevTable({"10.0.0.1:80"}, 251);
  ASSERT_EQ(one.size(), 251u);
  for (uint32_t b : one) EXPECT_EQ(b, 0u);
}

TEST(Maglev, TableSizeMustBeAReasonablePrime) {
  EXPECT_TRUE(checkMaglevTableSize(16381).isOk());
  EXPECT_TRUE(checkMaglevTableSize(65521).isOk());
  for (uint32_t bad : {0u, 16380u, 16383u, 100u, 2000000u}) {
    auto st = checkMaglevTableSize(bad);
    EXPECT_FALSE(st.isOk()) << bad;
    EXPECT_NE(st.message().find("prime"), std::string::npos);
  }
}

}  // namespace
}  // namespace petrel::core
