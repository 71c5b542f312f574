// The one reconcile mechanism of Petrel's daemons (agent, operator, sandbox kubelet).
//
// A Reconciler owns one part of the world (the agent's Service maps, its tunnel routes, the
// operator's pod CIDRs, ...) and knows how to make it equal to the desired state. Watch
// callbacks never touch that part: they change desired state and call markDirty(). Each
// reconciler gets one thread from a ReconcilerSet, which applies once the reconciler's inputs
// are ready, retries a failed pass with exponential backoff, runs a periodic repair pass (that
// heals what was changed behind the daemon's back), and keeps per-reconciler status (last
// success, last error, pending) for `petrel status` and logs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace petrel {

// What a pass is asked to do.
struct ReconcilePass {
  // A repair pass (periodic, the first pass, or the retry of a failed one): compare everything
  // with the world, not only what was marked dirty.
  bool full = false;
};

class ReconcileLoop;

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  // A short name for status and logs: "services", "tunnel-routes".
  virtual std::string name() const = 0;
  // Whether the inputs are complete (e.g. the informer caches it reads are synced); no pass
  // runs before, so a restart never removes something that is still wanted.
  virtual bool ready() const { return true; }
  // Makes the owned part equal to desired state. Idempotent. A non-OK status is retried.
  virtual Status reconcile(const ReconcilePass& pass) = 0;

  // Desired state changed: asks the reconciler's loop for a pass (`full`: a repair pass). Safe
  // from any thread; before the reconciler is registered, the first pass covers it anyway.
  void markDirty(bool full = false);

 private:
  friend class ReconcileLoop;
  std::atomic<ReconcileLoop*> loop_{nullptr};
};

// A reconciler made of functions, for parts whose pass is one call.
class FnReconciler : public Reconciler {
 public:
  FnReconciler(std::string name, std::function<Status(const ReconcilePass&)> reconcile,
               std::function<bool()> ready = {})
      : name_(std::move(name)), reconcile_(std::move(reconcile)), ready_(std::move(ready)) {}
  std::string name() const override { return name_; }
  bool ready() const override { return !ready_ || ready_(); }
  Status reconcile(const ReconcilePass& pass) override { return reconcile_(pass); }

 private:
  std::string name_;
  std::function<Status(const ReconcilePass&)> reconcile_;
  std::function<bool()> ready_;
};

struct ReconcilerOptions {
  std::chrono::milliseconds repair_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds initial_backoff{std::chrono::milliseconds(200)};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(10)};
  // Passes start at least this far apart, so a burst of events costs one pass.
  std::chrono::milliseconds min_gap{0};
};

struct ReconcilerStatus {
  using Clock = std::chrono::system_clock;
  std::string name;
  bool ready = false;     // inputs ready
  bool pending = false;   // marked dirty, or the last pass failed: a pass is due
  uint64_t passes = 0;    // attempts, successful or not
  uint64_t failures = 0;  // failed attempts
  uint32_t consecutive_failures = 0;
  std::optional<Clock::time_point> last_success;
  std::optional<Clock::time_point> last_failure;
  std::string last_error;  // of the last failed pass ("" once a later pass succeeded)
};

// One reconciler's thread: waits for markDirty() or the repair interval, then runs a pass.
class ReconcileLoop {
 public:
  ReconcileLoop(Reconciler& reconciler, ReconcilerOptions options);
  ~ReconcileLoop();
  ReconcileLoop(const ReconcileLoop&) = delete;
  ReconcileLoop& operator=(const ReconcileLoop&) = delete;

  void start();
  void stop();
  // Desired state changed; `full` asks for a repair pass (e.g. an input every part depends on).
  void markDirty(bool full = false);
  // Runs a pass now and waits for a pass that started after this call to finish; returns its
  // status, or UNAVAILABLE when `timeout` passes first or the loop is not running.
  Status reconcileNow(std::chrono::milliseconds timeout);
  ReconcilerStatus status() const;
  Reconciler& reconciler() const { return reconciler_; }

 private:
  void run();

  Reconciler& reconciler_;
  const ReconcilerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;    // markDirty, stop
  std::condition_variable passed_;  // a pass finished
  bool dirty_ = true;               // the first pass is a full one
  bool full_ = true;
  bool stop_ = false;
  bool running_ = false;
  uint64_t started_passes_ = 0;  // passes begun; reconcileNow waits for a later one
  uint64_t finished_passes_ = 0;
  Status last_status_;
  ReconcilerStatus status_;
  std::thread thread_;
};

// The reconcilers of one daemon: registered in dependency order, started together, stopped in
// reverse order, their status listed in registration order.
class ReconcilerSet {
 public:
  ReconcilerSet() = default;
  ~ReconcilerSet() { stop(); }
  ReconcilerSet(const ReconcilerSet&) = delete;
  ReconcilerSet& operator=(const ReconcilerSet&) = delete;

  // Registers `r` (not owned: it must outlive the set's stop()); returns its loop, through which
  // watch callbacks mark it dirty. Registering after start() starts the loop at once.
  ReconcileLoop& add(Reconciler& r, ReconcilerOptions options = {});
  void start();
  void stop();
  std::vector<ReconcilerStatus> status() const;

 private:
  mutable std::mutex mu_;
  bool started_ = false;
  std::vector<std::unique_ptr<ReconcileLoop>> loops_;
};

// "3s ago", "2m ago", "never": for status lines.
std::string sinceText(const std::optional<ReconcilerStatus::Clock::time_point>& t,
                      ReconcilerStatus::Clock::time_point now);

}  // namespace petrel
