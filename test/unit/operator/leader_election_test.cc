// LeaderElector against an in-memory Lease with resourceVersion conflicts and fake clocks:
// create, renew, no stealing of a live lease, takeover after expiry on the local clock, 409 races,
// stepping down past the renew deadline and on a foreign holder, release for an instant handover.
#include "operator/leader_election.h"

#include <functional>
#include <utility>

#include <gtest/gtest.h>

namespace petrel::op {
namespace {

using namespace std::chrono_literals;
using Outcome = LeaseApi::Outcome;

// One Lease as the API server keeps it: updates need the current resourceVersion.
class FakeLeaseServer {
 public:
  std::optional<LeaseRecord> lease;
  int version = 0;
  bool down = false;
  int writes = 0;
  // Makes the next write from anyone fail with a conflict after someone else's change.
  bool race_next = false;

  LeaseApi::Write write(const LeaseRecord& r, bool create) {
    if (down) return {Outcome::kFailed, ""};
    if (race_next) {
      race_next = false;
      if (lease) {
        ++version;
        lease->resource_version = std::to_string(version);
      }
      return {Outcome::kConflict, ""};
    }
    if (create ? lease.has_value() : (!lease || lease->resource_version != r.resource_version)) {
      return {Outcome::kConflict, ""};
    }
    ++writes;
    lease = r;
    lease->resource_version = std::to_string(++version);
    return {Outcome::kOk, lease->resource_version};
  }
};

class FakeLeaseApi : public LeaseApi {
 public:
  explicit FakeLeaseApi(FakeLeaseServer& server) : server_(server) {}
  std::function<void()> after_get;
  Result<std::optional<LeaseRecord>> get() override {
    if (server_.down) return Status(Code::kUnavailable, "server down");
    auto seen = server_.lease;
    if (after_get) std::exchange(after_get, nullptr)();  // another replica acts in between
    return seen;
  }
  Write create(const LeaseRecord& r) override { return server_.write(r, true); }
  Write update(const LeaseRecord& r) override { return server_.write(r, false); }

 private:
  FakeLeaseServer& server_;
};

struct FakeClocks {
  std::chrono::steady_clock::time_point mono{std::chrono::hours(1000)};
  std::chrono::system_clock::time_point wall{std::chrono::hours(490000)};
  void advance(std::chrono::milliseconds d) {
    mono += d;
    wall += d;
  }
};

class LeaderElection : public ::testing::Test {
 protected:
  struct Replica {
    FakeLeaseApi api;
    std::unique_ptr<LeaderElector> elector;
  };
  std::unique_ptr<Replica> replica(const std::string& identity, FakeClocks& clocks) {
    auto r = std::unique_ptr<Replica>(new Replica{FakeLeaseApi(server_), nullptr});
    ElectionConfig c;
    c.identity = identity;
    c.lease_duration = 15s;
    c.renew_deadline = 10s;
    c.retry_period = 2s;
    r->elector = std::make_unique<LeaderElector>(
        r->api, c, [&clocks] { return clocks.mono; }, [&clocks] { return clocks.wall; });
    return r;
  }
  FakeLeaseServer server_;
  FakeClocks clock_a_, clock_b_;
};

TEST_F(LeaderElection, ValidatesTimings) {
  ElectionConfig c;
  c.identity = "x";
  EXPECT_TRUE(validate(c));
  c.renew_deadline = 15s;
  EXPECT_FALSE(validate(c));
  c.renew_deadline = 10s;
  c.retry_period = 10s;
  EXPECT_FALSE(validate(c));
  c.retry_period = 2s;
  c.identity.clear();
  EXPECT_FALSE(validate(c));
}

TEST_F(LeaderElection, CreatesAbsentLeaseAndRenews) {
  auto a = replica("a", clock_a_);
  EXPECT_TRUE(a->elector->step());
  ASSERT_TRUE(server_.lease);
  EXPECT_EQ(server_.lease->holder, "a");
  EXPECT_EQ(server_.lease->duration_seconds, 15);
  EXPECT_EQ(server_.lease->transitions, 0);
  EXPECT_FALSE(server_.lease->acquire_time.empty());
  const std::string acquired = server_.lease->acquire_time;
  clock_a_.advance(2s);
  EXPECT_TRUE(a->elector->step());
  EXPECT_EQ(server_.lease->acquire_time, acquired);
  EXPECT_NE(server_.lease->renew_time, acquired);
  EXPECT_EQ(server_.writes, 2);
  EXPECT_TRUE(a->elector->leading());
}

TEST_F(LeaderElection, CandidateWaitsForExpiryOnItsOwnClockThenTakesOver) {
  auto a = replica("a", clock_a_);
  auto b = replica("b", clock_b_);
  // b's wall clock is far ahead: that must not make a's fresh lease look expired.
  clock_b_.wall += 1h;
  ASSERT_TRUE(a->elector->step());
  EXPECT_FALSE(b->elector->step());
  EXPECT_EQ(b->elector->observedHolder(), "a");
  // a renews; b keeps seeing changes and never takes over.
  for (int i = 0; i < 20; ++i) {
    clock_a_.advance(2s);
    clock_b_.advance(2s);
    ASSERT_TRUE(a->elector->step());
    ASSERT_FALSE(b->elector->step()) << i;
  }
  // a dies. b takes over only once the record stood still for the whole lease duration.
  clock_b_.advance(14s);
  EXPECT_FALSE(b->elector->step());
  clock_b_.advance(2s);
  EXPECT_TRUE(b->elector->step());
  EXPECT_EQ(server_.lease->holder, "b");
  EXPECT_EQ(server_.lease->transitions, 1);
  EXPECT_EQ(server_.lease->acquire_time, server_.lease->renew_time);
}

TEST_F(LeaderElection, OldLeaderSeesTheNewHolderAndStepsDown) {
  auto a = replica("a", clock_a_);
  auto b = replica("b", clock_b_);
  ASSERT_TRUE(a->elector->step());
  EXPECT_FALSE(b->elector->step());
  clock_b_.advance(16s);
  ASSERT_TRUE(b->elector->step());
  // a was paused (e.g. stopped) and comes back: it must not renew over b.
  EXPECT_FALSE(a->elector->step());
  EXPECT_FALSE(a->elector->leading());
  EXPECT_EQ(server_.lease->holder, "b");
}

TEST_F(LeaderElection, ConflictOnAcquireMeansNotLeader) {
  auto a = replica("a", clock_a_);
  server_.race_next = true;  // someone created it between our get and create
  server_.lease = LeaseRecord{"c", 15, "x", "x", 3, "1"};
  server_.version = 1;
  EXPECT_FALSE(a->elector->step());
  clock_a_.advance(16s);
  server_.race_next = true;  // another candidate took the expired lease first
  EXPECT_FALSE(a->elector->step());
  EXPECT_FALSE(a->elector->leading());
  EXPECT_EQ(server_.lease->holder, "c");
}

TEST_F(LeaderElection, TwoCandidatesNeverBothLead) {
  auto a = replica("a", clock_a_);
  auto b = replica("b", clock_a_);  // same clock: both see expiry at the same moment
  server_.lease = LeaseRecord{"dead", 15, "x", "x", 0, "1"};
  server_.version = 1;
  EXPECT_FALSE(a->elector->step());
  EXPECT_FALSE(b->elector->step());
  clock_a_.advance(16s);
  // b reads the expired record, then a takes the lease before b writes: b's update carries the
  // old resourceVersion and gets 409.
  bool a_won = false;
  b->api.after_get = [&] { a_won = a->elector->step(); };
  EXPECT_FALSE(b->elector->step());
  EXPECT_TRUE(a_won);
  EXPECT_TRUE(a->elector->leading());
  EXPECT_FALSE(b->elector->leading());
  EXPECT_EQ(server_.lease->holder, "a");
  EXPECT_EQ(server_.lease->transitions, 1);
}

TEST_F(LeaderElection, StepsDownWhenRenewalsFailPastTheDeadline) {
  auto a = replica("a", clock_a_);
  ASSERT_TRUE(a->elector->step());
  server_.down = true;
  clock_a_.advance(2s);
  EXPECT_TRUE(a->elector->step());  // a failed renewal inside the deadline: still leading
  clock_a_.advance(6s);
  EXPECT_TRUE(a->elector->step());
  EXPECT_TRUE(a->elector->leading());
  clock_a_.advance(3s);  // 11 s since the last renewal
  EXPECT_FALSE(a->elector->leading());
  EXPECT_FALSE(a->elector->step());
  EXPECT_FALSE(a->elector->leadingUntil());
  // The server comes back: a is a candidate again and, still the holder on record, renews.
  server_.down = false;
  clock_a_.advance(2s);
  EXPECT_TRUE(a->elector->step());
}

TEST_F(LeaderElection, ConflictOnRenewRereadsNextRound) {
  auto a = replica("a", clock_a_);
  ASSERT_TRUE(a->elector->step());
  clock_a_.advance(2s);
  server_.race_next = true;
  EXPECT_TRUE(a->elector->step());  // one lost race is not a lost lease
  clock_a_.advance(2s);
  EXPECT_TRUE(a->elector->step());
  EXPECT_EQ(server_.lease->holder, "a");
}

TEST_F(LeaderElection, ReleaseHandsOverAtOnce) {
  auto a = replica("a", clock_a_);
  auto b = replica("b", clock_b_);
  ASSERT_TRUE(a->elector->step());
  EXPECT_FALSE(b->elector->step());
  EXPECT_TRUE(a->elector->release());
  EXPECT_FALSE(a->elector->leading());
  EXPECT_EQ(server_.lease->holder, "");
  clock_b_.advance(2s);
  EXPECT_TRUE(b->elector->step());  // no waiting for the lease duration
  EXPECT_EQ(server_.lease->holder, "b");
  EXPECT_FALSE(a->elector->release());  // not leading: nothing written
  EXPECT_EQ(server_.lease->holder, "b");
}

TEST_F(LeaderElection, LeaseObjectRoundTrips) {
  LeaseRecord r{"op-1", 15, "2026-11-24T04:00:00.000001Z", "2026-11-24T04:00:02.500000Z", 4, "77"};
  auto obj = leaseObject("petrel-operator", "kube-system", r);
  EXPECT_EQ(obj["metadata"]["namespace"], "kube-system");
  EXPECT_EQ(obj["spec"]["holderIdentity"], "op-1");
  auto back = leaseRecordOf(obj);
  EXPECT_EQ(back.holder, r.holder);
  EXPECT_EQ(back.duration_seconds, 15);
  EXPECT_EQ(back.acquire_time, r.acquire_time);
  EXPECT_EQ(back.renew_time, r.renew_time);
  EXPECT_EQ(back.transitions, 4);
  EXPECT_EQ(back.resource_version, "77");
  EXPECT_EQ(microTime(std::chrono::system_clock::time_point(1764000000123456us)),
            "2025-11-24T16:00:00.123456Z");
}

}  // namespace
}  // namespace petrel::op
