// Maglev tables. Every node and every agent restart must build the same table for the same
// backends, or a connection from outside moves to another backend when it reaches another node
// or outlives an agent: so tables for fixed inputs are pinned here to literal values (a whole
// small table, and a digest plus counts and positions of a default-sized one). A change to the
// hashes or the fill order fails these tests; such a change moves live connections on upgrade
// and must be made knowingly. Then the properties: shares within one entry of each other, and
// removing or adding one backend of N moves about 1/N of the entries and few of the others.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "agent/core/maglev.h"

namespace petrel::core {
namespace {

// n backend names as the agent writes them ("address:port"), in the agent's order (sorted by
// address; see agent/k8s/service_frontends.cc).
std::vector<std::string> backends(int n, int first = 0) {
  std::vector<std::string> out;
  for (int i = first; i < first + n; ++i)
    out.push_back("10.244." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 2) +
                  ":8080");
  return out;
}

// FNV-1a (64 bits) over the table, each entry taken as one byte (tables here have < 256
// backends).
uint64_t digest(const std::vector<uint32_t>& table) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint32_t b : table) {
    h ^= static_cast<uint8_t>(b);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::vector<int> shares(const std::vector<uint32_t>& table, size_t n) {
  std::vector<int> out(n, 0);
  for (uint32_t b : table) {
    if (b < n) ++out[b];
  }
  return out;
}

// Entry i of the table is the digit at position i.
std::string asDigits(const std::vector<uint32_t>& table) {
  std::string out;
  for (uint32_t b : table) out += static_cast<char>('0' + b);
  return out;
}

TEST(Maglev, ASmallTableIsPinnedEntryByEntry) {
  const std::string expected =  // 251 entries, 50 a line
      "10201012010112102010020101201021220211022020120201"
      "11202120221201102011120212022120112201122011201202"
      "01122011210102011020102201021210201202010120102122"
      "02110020101202011120211022020120201112021202212011"
      "02011020212012020112201102010201202011220100101020"
      "1";
  auto table = maglevTable({"10.244.1.2:8080", "10.244.1.3:8080", "10.244.2.2:8080"}, 251);
  EXPECT_EQ(asDigits(table), expected);
}

TEST(Maglev, ADefaultSizedTableIsPinnedByDigestCountsAndPositions) {
  auto table = maglevTable(backends(10), 16381);
  ASSERT_EQ(table.size(), 16381u);
  EXPECT_EQ(shares(table, 10),
            (std::vector<int>{1639, 1638, 1638, 1638, 1638, 1638, 1638, 1638, 1638, 1638}));
  EXPECT_EQ(table[0], 1u);
  EXPECT_EQ(table[1], 4u);
  EXPECT_EQ(table[2], 5u);
  EXPECT_EQ(table[100], 0u);
  EXPECT_EQ(table[8190], 1u);
  EXPECT_EQ(table[16379], 4u);
  EXPECT_EQ(table[16380], 7u);
  EXPECT_EQ(digest(table), 0x6f2347de95cf7313ull);
}

TEST(Maglev, NoBackendsGiveNoTableAndOneBackendOwnsEveryEntry) {
  EXPECT_TRUE(maglevTable({}, 251).empty());
  auto one = maglevTable({"10.0.0.1:80"}, 251);
  ASSERT_EQ(one.size(), 251u);
  for (uint32_t b : one) EXPECT_EQ(b, 0u);
}

// Backends take entries in turns, so no two shares differ by more than one entry.
TEST(Maglev, SharesDifferByAtMostOneEntry) {
  for (int n : {2, 3, 7, 10, 100, 1000}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    auto table = maglevTable(backends(n), 16381);
    ASSERT_EQ(table.size(), 16381u);
    auto s = shares(table, n);
    ASSERT_EQ(std::accumulate(s.begin(), s.end(), 0), 16381) << "an entry names no backend";
    auto [lo, hi] = std::minmax_element(s.begin(), s.end());
    EXPECT_LE(*hi - *lo, 1) << "shares from " << *lo << " to " << *hi;
  }
}

// Removing one backend of N moves its own entries (about M/N) and at most 2% of the table
// besides, whichever backend goes.
TEST(Maglev, RemovingOneBackendMovesItsShareAndLittleElse) {
  constexpr uint32_t m = 16381;
  for (int n : {3, 10, 50}) {
    const auto names = backends(n);
    const auto before = maglevTable(names, m);
    for (int removed = 0; removed < n; ++removed) {
      SCOPED_TRACE("n = " + std::to_string(n) + ", removed " + names[removed]);
      auto rest = names;
      rest.erase(rest.begin() + removed);
      const auto after = maglevTable(rest, m);
      int own = 0, others_moved = 0;
      for (uint32_t i = 0; i < m; ++i) {
        if (static_cast<int>(before[i]) == removed) {
          ++own;
        } else if (names[before[i]] != rest[after[i]]) {
          ++others_moved;
        }
      }
      EXPECT_LE(own, static_cast<int>(m / n) + 1);
      EXPECT_LT(others_moved, static_cast<int>(m * 0.02))
          << others_moved << " entries of remaining backends moved";
    }
  }
}

// Adding one backend to N gives it its share, taken mostly from the others' entries, with at
// most 2% of the table moving between the old backends. The new one sorts first, so every old
// backend's place in the list changes.
TEST(Maglev, AddingOneBackendTakesItsShareAndMovesLittleElse) {
  constexpr uint32_t m = 16381;
  for (int n : {3, 10, 50}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const auto names = backends(n, 1);
    const auto more = backends(n + 1, 0);  // more[0] is the new one
    const auto before = maglevTable(names, m);
    const auto after = maglevTable(more, m);
    int to_new = 0, between_old = 0;
    for (uint32_t i = 0; i < m; ++i) {
      if (after[i] == 0) {
        ++to_new;
      } else if (names[before[i]] != more[after[i]]) {
        ++between_old;
      }
    }
    EXPECT_GE(to_new, static_cast<int>(m / (n + 1)));
    EXPECT_LE(to_new, static_cast<int>(m / (n + 1)) + 1);
    EXPECT_LT(between_old, static_cast<int>(m * 0.02))
        << between_old << " entries moved between old backends";
  }
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
