// ReconcileLoop and ReconcilerSet: see reconciler.h.
#include "common/reconciler.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace petrel {

void Reconciler::markDirty(bool full) {
  if (ReconcileLoop* loop = loop_.load()) loop->markDirty(full);
}

ReconcileLoop::ReconcileLoop(Reconciler& reconciler, ReconcilerOptions options)
    : reconciler_(reconciler), options_(options) {
  status_.name = reconciler_.name();
  status_.pending = true;
  reconciler_.loop_ = this;
}

ReconcileLoop::~ReconcileLoop() {
  stop();
  reconciler_.loop_ = nullptr;
}

void ReconcileLoop::start() {
  std::lock_guard lock(mu_);
  if (running_ || stop_) return;
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void ReconcileLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  passed_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  running_ = false;
}

void ReconcileLoop::markDirty(bool full) {
  {
    std::lock_guard lock(mu_);
    dirty_ = true;
    full_ = full_ || full;
    status_.pending = true;
  }
  wake_.notify_all();
}

Status ReconcileLoop::reconcileNow(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!running_ || stop_) {
    return makeError(Code::kUnavailable, "{}: the reconciler is not running", status_.name);
  }
  const uint64_t after = started_passes_;
  dirty_ = true;
  status_.pending = true;
  wake_.notify_all();
  // A pass that started after this call has number > after; wait until one has finished.
  const bool done =
      passed_.wait_for(lock, timeout, [&] { return stop_ || finished_passes_ > after; });
  if (!done || finished_passes_ <= after) {
    return makeError(Code::kUnavailable, "{}: no pass finished within {} ms", status_.name,
                     timeout.count());
  }
  return last_status_;
}

ReconcilerStatus ReconcileLoop::status() const {
  std::lock_guard lock(mu_);
  ReconcilerStatus s = status_;
  s.ready = reconciler_.ready();
  return s;
}

void ReconcileLoop::run() {
  using Steady = std::chrono::steady_clock;
  auto last_full = Steady::now();
  auto backoff = options_.initial_backoff;
  std::optional<Steady::time_point> retry_at;    // after a failure
  std::optional<Steady::time_point> recheck_at;  // inputs were not ready: look again then
  std::optional<Steady::time_point> last_start;  // of the last pass
  for (;;) {
    ReconcilePass pass;
    {
      std::unique_lock lock(mu_);
      // Wake for a change (unless backing off or waiting for the inputs), the retry time, the
      // readiness re-check or the repair interval, whichever comes first.
      auto until = last_full + options_.repair_interval;
      if (retry_at) until = std::min(until, *retry_at);
      if (recheck_at) until = std::min(until, *recheck_at);
      wake_.wait_until(lock, until, [&] { return stop_ || (dirty_ && !retry_at && !recheck_at); });
      if (stop_) return;
      const auto now = Steady::now();
      if (recheck_at && now >= *recheck_at) recheck_at.reset();
      const bool retry_due = retry_at && now >= *retry_at;
      const bool repair_due = now - last_full >= options_.repair_interval;
      const bool change_due = dirty_ && !retry_at && !recheck_at;
      if (!change_due && !retry_due && !repair_due) continue;
      if (!reconciler_.ready()) {
        recheck_at = now + std::chrono::milliseconds(100);  // stays pending
        continue;
      }
      if (options_.min_gap.count() > 0 && last_start && now < *last_start + options_.min_gap) {
        wake_.wait_until(lock, *last_start + options_.min_gap, [&] { return stop_; });
        if (stop_) return;
      }
      last_start = Steady::now();
      pass.full = full_ || retry_due || repair_due;
      dirty_ = false;
      full_ = false;
      retry_at.reset();
      ++started_passes_;
    }
    if (pass.full) last_full = Steady::now();
    Status st = reconciler_.reconcile(pass);
    {
      std::lock_guard lock(mu_);
      ++finished_passes_;
      last_status_ = st;
      ++status_.passes;
      if (st) {
        status_.last_success = ReconcilerStatus::Clock::now();
        status_.last_error.clear();
        status_.consecutive_failures = 0;
        status_.pending = dirty_;
        backoff = options_.initial_backoff;
      } else {
        ++status_.failures;
        ++status_.consecutive_failures;
        status_.last_failure = ReconcilerStatus::Clock::now();
        status_.last_error = st.toString();
        status_.pending = true;
        retry_at = Steady::now() + backoff;
        full_ = true;  // the retry compares everything
        spdlog::warn("{}: {} (retrying in {} ms)", status_.name, st.toString(), backoff.count());
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
    }
    passed_.notify_all();
  }
}

ReconcileLoop& ReconcilerSet::add(Reconciler& r, ReconcilerOptions options) {
  std::lock_guard lock(mu_);
  loops_.push_back(std::make_unique<ReconcileLoop>(r, options));
  if (started_) loops_.back()->start();
  return *loops_.back();
}

void ReconcilerSet::start() {
  std::lock_guard lock(mu_);
  started_ = true;
  for (auto& l : loops_) l->start();
}

void ReconcilerSet::stop() {
  std::lock_guard lock(mu_);
  for (auto it = loops_.rbegin(); it != loops_.rend(); ++it) (*it)->stop();
}

std::vector<ReconcilerStatus> ReconcilerSet::status() const {
  std::lock_guard lock(mu_);
  std::vector<ReconcilerStatus> out;
  for (const auto& l : loops_) out.push_back(l->status());
  return out;
}

std::string sinceText(const std::optional<ReconcilerStatus::Clock::time_point>& t,
                      ReconcilerStatus::Clock::time_point now) {
  if (!t) return "never";
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(now - *t).count();
  if (s < 120) return fmt::format("{}s ago", std::max<int64_t>(s, 0));
  if (s < 7200) return fmt::format("{}m ago", s / 60);
  return fmt::format("{}h ago", s / 3600);
}

}  // namespace petrel
