// Identity allocation against an in-memory store: the same labels get the same number from any
// number of allocators, other labels on the way are stepped over, and creates that race are
// settled by reading the winner.
#include "agent/core/identity_allocation.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "maps.h"

namespace petrel::core {
namespace {

class MapStore : public IdentityStore {
 public:
  Result<SecurityLabels> labelsOf(uint32_t number) override {
    ++reads;
    if (before_read) before_read(number);
    auto it = identities.find(number);
    if (it == identities.end()) return makeError(Code::kNotFound, "no identity {}", number);
    return it->second;
  }
  Result<bool> create(uint32_t number, const SecurityLabels& labels) override {
    ++creates;
    if (before_create) before_create(number);
    return identities.emplace(number, labels).second;
  }

  std::map<uint32_t, SecurityLabels> identities;
  std::function<void(uint32_t)> before_read, before_create;
  int reads = 0, creates = 0;
};

SecurityLabels web() {
  return securityLabels({{"app", "web"}}, "default", {}, "default");
}
SecurityLabels db() {
  return securityLabels({{"app", "db"}}, "default", {}, "default");
}

TEST(IdentityCandidate, StaysInTheClusterRangeAndStepsByOne) {
  for (const std::string& key : std::vector<std::string>{"", "a=b", canonicalKey(web())}) {
    const uint32_t first = identityCandidate(key, 0);
    EXPECT_GE(first, uint32_t{PETREL_IDENTITY_CLUSTER_MIN});
    EXPECT_LE(first, uint32_t{PETREL_IDENTITY_CLUSTER_MAX});
    const uint32_t second = identityCandidate(key, 1);
    EXPECT_EQ(second, first == PETREL_IDENTITY_CLUSTER_MAX ? uint32_t{PETREL_IDENTITY_CLUSTER_MIN}
                                                           : first + 1);
  }
  EXPECT_NE(identityCandidate(canonicalKey(web()), 0), identityCandidate(canonicalKey(db()), 0));
}

TEST(AllocateIdentity, CreatesOnceAndFindsItAfterwards) {
  MapStore store;
  auto first = allocateIdentity(store, web());
  ASSERT_TRUE(first) << first.status().message();
  EXPECT_EQ(store.creates, 1);
  auto again = allocateIdentity(store, web());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(store.creates, 1);
  EXPECT_EQ(store.identities.at(*first), web());
}

TEST(AllocateIdentity, StepsOverANumberOtherLabelsHold) {
  MapStore store;
  const uint32_t start = identityCandidate(canonicalKey(web()), 0);
  store.identities[start] = db();
  auto got = allocateIdentity(store, web());
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, identityCandidate(canonicalKey(web()), 1));
  EXPECT_EQ(store.identities.at(start), db());
}

// Another agent creates `winner` at our number between our read and our create: the same labels
// end at that number, other labels at the next one.
TEST(AllocateIdentity, ARaceIsSettledByReadingTheWinner) {
  for (const SecurityLabels& winner : {web(), db()}) {
    MapStore store;
    store.before_create = [&](uint32_t number) {
      store.before_create = nullptr;
      store.identities[number] = winner;
    };
    auto got = allocateIdentity(store, web());
    ASSERT_TRUE(got);
    const uint32_t expected = identityCandidate(canonicalKey(web()), winner == web() ? 0 : 1);
    EXPECT_EQ(*got, expected) << canonicalKey(winner);
    EXPECT_EQ(store.identities.size(), winner == web() ? 1u : 2u);
  }
}

TEST(AllocateIdentity, GivesUpNamingTheLabelsWhenEveryCandidateIsTaken) {
  MapStore store;
  for (uint32_t i = 0; i < 4; ++i)
    store.identities[identityCandidate(canonicalKey(web()), i)] = db();
  auto got = allocateIdentity(store, web(), 4);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.status().code(), Code::kResourceExhausted);
  EXPECT_NE(got.status().message().find("k8s:app=web"), std::string::npos)
      << got.status().message();
}

TEST(AllocateIdentity, AStoreErrorIsReturnedAsIs) {
  class Down : public IdentityStore {
    Result<SecurityLabels> labelsOf(uint32_t) override {
      return makeError(Code::kUnavailable, "apiserver down");
    }
    Result<bool> create(uint32_t, const SecurityLabels&) override { return true; }
  } store;
  auto got = allocateIdentity(store, web());
  ASSERT_FALSE(got);
  EXPECT_EQ(got.status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace petrel::core
