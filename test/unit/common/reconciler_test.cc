// The reconcile loop: passes on change, readiness gating, retries with backoff (full passes),
// periodic repair, synchronous reconcileNow, status, and the set's order.
#include "common/reconciler.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace petrel {
namespace {

using namespace std::chrono_literals;

// Polls `cond` until it holds or `limit` passes.
template <typename F>
bool eventually(F cond, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return cond();
}

class Recording : public Reconciler {
 public:
  std::string name() const override { return "recording"; }
  bool ready() const override { return ready_; }
  Status reconcile(const ReconcilePass& pass) override {
    std::lock_guard lock(mu_);
    passes_.push_back(pass);
    times_.push_back(std::chrono::steady_clock::now());
    if (fail_left_ > 0) {
      --fail_left_;
      return Status(Code::kUnavailable, "map busy");
    }
    return Status::ok();
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return passes_.size();
  }
  std::vector<ReconcilePass> passes() const {
    std::lock_guard lock(mu_);
    return passes_;
  }
  std::vector<std::chrono::steady_clock::time_point> times() const {
    std::lock_guard lock(mu_);
    return times_;
  }
  std::atomic<bool> ready_{true};
  int fail_left_ = 0;  // set before start

 private:
  mutable std::mutex mu_;
  std::vector<ReconcilePass> passes_;
  std::vector<std::chrono::steady_clock::time_point> times_;
};

ReconcilerOptions quick() {
  ReconcilerOptions o;
  o.repair_interval = 1h;  // no repair pass unless a test asks for one
  o.initial_backoff = 20ms;
  o.max_backoff = 80ms;
  return o;
}

TEST(Reconciler, FirstPassIsFullThenChangesAreIncremental) {
  Recording r;
  ReconcileLoop loop(r, quick());
  loop.start();
  ASSERT_TRUE(eventually([&] { return r.count() == 1; }));
  EXPECT_TRUE(r.passes()[0].full);
  r.markDirty();  // through the reconciler, as watch handlers do
  ASSERT_TRUE(eventually([&] { return r.count() == 2; }));
  EXPECT_FALSE(r.passes()[1].full);
  loop.markDirty(/*full=*/true);
  ASSERT_TRUE(eventually([&] { return r.count() == 3; }));
  EXPECT_TRUE(r.passes()[2].full);
  auto s = loop.status();
  EXPECT_EQ(s.name, "recording");
  EXPECT_EQ(s.passes, 3u);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_TRUE(s.last_success.has_value());
  EXPECT_FALSE(s.last_failure.has_value());
}

TEST(Reconciler, NoPassRunsBeforeTheInputsAreReady) {
  Recording r;
  r.ready_ = false;
  ReconcileLoop loop(r, quick());
  loop.start();
  std::this_thread::sleep_for(300ms);  // several readiness checks
  EXPECT_EQ(r.count(), 0u);
  auto s = loop.status();
  EXPECT_TRUE(s.pending);
  EXPECT_FALSE(s.ready);
  r.ready_ = true;
  ASSERT_TRUE(eventually([&] { return r.count() == 1; }));
  EXPECT_TRUE(r.passes()[0].full);
  ASSERT_TRUE(eventually([&] { return !loop.status().pending; }));
}

TEST(Reconciler, AFailedPassIsRetriedInFullWithGrowingBackoff) {
  Recording r;
  r.fail_left_ = 3;
  ReconcileLoop loop(r, quick());
  loop.start();
  ASSERT_TRUE(eventually([&] { return r.count() == 4; }));
  auto passes = r.passes();
  for (const auto& p : passes) EXPECT_TRUE(p.full);
  auto t = r.times();
  // Backoff 20, 40, 80 ms between the attempts (at least; the loop may be late, never early).
  EXPECT_GE(t[1] - t[0], 20ms);
  EXPECT_GE(t[2] - t[1], 40ms);
  EXPECT_GE(t[3] - t[2], 80ms);
  ASSERT_TRUE(eventually([&] { return loop.status().last_error.empty(); }));
  auto s = loop.status();
  EXPECT_EQ(s.failures, 3u);
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_TRUE(s.last_failure.has_value());
  EXPECT_FALSE(s.pending);
}

TEST(Reconciler, StatusNamesTheLastError) {
  Recording r;
  r.fail_left_ = 1000;
  ReconcileLoop loop(r, quick());
  loop.start();
  ASSERT_TRUE(eventually([&] { return loop.status().failures >= 2; }));
  auto s = loop.status();
  EXPECT_EQ(s.last_error, "UNAVAILABLE: map busy");
  EXPECT_TRUE(s.pending);
  EXPECT_GE(s.consecutive_failures, 2u);
  EXPECT_FALSE(s.last_success.has_value());
}

TEST(Reconciler, RepairPassesRunPeriodically) {
  Recording r;
  auto o = quick();
  o.repair_interval = 50ms;
  ReconcileLoop loop(r, o);
  loop.start();
  ASSERT_TRUE(eventually([&] { return r.count() >= 4; }));
  for (const auto& p : r.passes()) EXPECT_TRUE(p.full);
  auto t = r.times();
  for (size_t i = 1; i < t.size(); ++i) EXPECT_GE(t[i] - t[i - 1], 45ms) << i;
}

TEST(Reconciler, ReconcileNowWaitsForAPassStartedAfterTheCall) {
  Recording r;
  ReconcileLoop loop(r, quick());
  EXPECT_EQ(loop.reconcileNow(100ms).code(), Code::kUnavailable) << "not started";
  loop.start();
  ASSERT_TRUE(eventually([&] { return r.count() == 1; }));
  EXPECT_TRUE(loop.reconcileNow(5s).isOk());
  EXPECT_EQ(r.count(), 2u);
  r.fail_left_ = 1;
  EXPECT_EQ(loop.reconcileNow(5s).message(), "map busy");
}

TEST(Reconciler, ASetStartsAllListsThemInOrderAndStops) {
  Recording a, b;
  ReconcilerSet set;
  set.add(a, quick());
  set.add(b, quick());
  set.start();
  ASSERT_TRUE(eventually([&] { return a.count() == 1 && b.count() == 1; }));
  auto s = set.status();
  ASSERT_EQ(s.size(), 2u);
  set.stop();
  a.markDirty();
  b.markDirty();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(a.count(), 1u) << "no pass after stop";
  EXPECT_EQ(b.count(), 1u);
}

TEST(Reconciler, SinceTextIsShortAndSaysNever) {
  const auto now = ReconcilerStatus::Clock::now();
  EXPECT_EQ(sinceText(std::nullopt, now), "never");
  EXPECT_EQ(sinceText(now - 3s, now), "3s ago");
  EXPECT_EQ(sinceText(now - 300s, now), "5m ago");
  EXPECT_EQ(sinceText(now - 3h, now), "3h ago");
}

}  // namespace
}  // namespace petrel
