// Leader election through a coordination.k8s.io/v1 Lease, as a state machine with injectable
// clocks so it is tested without a server or real time.
//
// Clocks: whether another holder's lease has expired is judged on the LOCAL monotonic clock —
// the lease counts as expired when its record (holder, renewTime, resourceVersion) has not
// changed for leaseDurationSeconds since this process first saw it — so clock skew between
// replicas cannot make two of them lead (the way client-go does it). The wall clock is only used
// for the acquireTime/renewTime written into the Lease, for people to read.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace petrel::op {

struct LeaseRecord {
  std::string holder;  // spec.holderIdentity; empty = released
  int duration_seconds = 0;
  std::string acquire_time;  // RFC 3339 with microseconds (MicroTime)
  std::string renew_time;
  int transitions = 0;
  std::string resource_version;
};

// The Lease object for `record` (metadata.resourceVersion set when the record has one).
nlohmann::json leaseObject(const std::string& name, const std::string& ns,
                           const LeaseRecord& record);
// The record in a Lease object.
LeaseRecord leaseRecordOf(const nlohmann::json& lease);
// "2026-11-24T04:21:54.123456Z"
std::string microTime(std::chrono::system_clock::time_point t);

// The three calls election needs; REST in the operator, in memory in tests.
class LeaseApi {
 public:
  enum class Outcome { kOk, kConflict, kFailed };  // kConflict: 409 (lost a race)
  struct Write {
    Outcome outcome = Outcome::kFailed;
    std::string resource_version;  // of the written object when kOk
  };
  virtual ~LeaseApi() = default;
  // nullopt: the Lease does not exist. Not OK: the server could not be asked.
  virtual Result<std::optional<LeaseRecord>> get() = 0;
  virtual Write create(const LeaseRecord& record) = 0;
  // Update guarded by record.resource_version.
  virtual Write update(const LeaseRecord& record) = 0;
};

struct ElectionConfig {
  std::string identity;
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
};

// INVALID_ARGUMENT unless identity is set and retry_period < renew_deadline < lease_duration.
Status validate(const ElectionConfig& config);

class LeaderElector {
 public:
  using MonoClock = std::function<std::chrono::steady_clock::time_point()>;
  using WallClock = std::function<std::chrono::system_clock::time_point()>;

  LeaderElector(LeaseApi& api, ElectionConfig config, MonoClock mono = nullptr,
                WallClock wall = nullptr);

  // One round, to be called every retry period: create the Lease when absent, take it when free
  // or expired, renew it when held. A leader whose renewals keep failing steps down once the
  // last success is older than renew_deadline, and a leader that finds another holder steps
  // down at once; it then stays a candidate. Returns leading().
  bool step();
  // Leading, and the last successful renewal is within renew_deadline (checked against the
  // clock now: use it right before acting).
  bool leading() const;
  // Until when this process may act as leader (last renewal + renew_deadline); nullopt when it
  // does not lead. Lets another thread check leadership without calling into the elector.
  std::optional<std::chrono::steady_clock::time_point> leadingUntil() const;
  // A leader gives the Lease up (holder cleared, 1 s duration) so a candidate takes it at once.
  // Stops leading whatever the outcome; true when the release was written.
  bool release();

  // The holder last seen in the Lease ("" when none or released).
  std::string observedHolder() const { return observed_ ? observed_->holder : ""; }
  const ElectionConfig& config() const { return config_; }

 private:
  void observe(const LeaseRecord& record);
  void checkDeadline();
  LeaseRecord ours(const LeaseRecord& base, bool acquiring) const;
  bool won(const LeaseRecord& record, const LeaseApi::Write& w);

  LeaseApi& api_;
  ElectionConfig config_;
  MonoClock mono_;
  WallClock wall_;
  std::optional<LeaseRecord> observed_;
  std::chrono::steady_clock::time_point observed_at_{};
  bool leading_ = false;
  std::chrono::steady_clock::time_point last_renew_{};
};

}  // namespace petrel::op
