// LeaderElector: acquire / renew / step down / release over a LeaseApi.
#include "operator/leader_election.h"

#include <ctime>

#include <spdlog/spdlog.h>

#include "common/json_path.h"

namespace petrel::op {

using nlohmann::json;

json leaseObject(const std::string& name, const std::string& ns, const LeaseRecord& record) {
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"spec",
                 {{"holderIdentity", record.holder},
                  {"leaseDurationSeconds", record.duration_seconds},
                  {"leaseTransitions", record.transitions}}}};
  if (!record.acquire_time.empty()) lease["spec"]["acquireTime"] = record.acquire_time;
  if (!record.renew_time.empty()) lease["spec"]["renewTime"] = record.renew_time;
  if (!record.resource_version.empty()) {
    lease["metadata"]["resourceVersion"] = record.resource_version;
  }
  return lease;
}

LeaseRecord leaseRecordOf(const json& lease) {
  LeaseRecord r;
  if (!lease.is_object()) return r;
  auto num = [&](const char* key) {
    const json& v = jsonAt(lease, {"spec", key});
    return v.is_number_integer() ? v.get<int>() : 0;
  };
  r.resource_version = stringAt(lease, {"metadata", "resourceVersion"});
  r.holder = stringAt(lease, {"spec", "holderIdentity"});
  r.duration_seconds = num("leaseDurationSeconds");
  r.acquire_time = stringAt(lease, {"spec", "acquireTime"});
  r.renew_time = stringAt(lease, {"spec", "renewTime"});
  r.transitions = num("leaseTransitions");
  return r;
}

std::string microTime(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%06lldZ", static_cast<long long>(us % 1000000));
  return buf;
}

Status validate(const ElectionConfig& c) {
  if (c.identity.empty()) return Status(Code::kInvalidArgument, "leader identity is empty");
  if (c.retry_period.count() <= 0 || c.retry_period >= c.renew_deadline ||
      c.renew_deadline >= c.lease_duration) {
    return Status(Code::kInvalidArgument,
                  "need 0 < retry period (" + std::to_string(c.retry_period.count()) +
                      " s) < renew deadline (" + std::to_string(c.renew_deadline.count()) +
                      " s) < lease duration (" + std::to_string(c.lease_duration.count()) + " s)");
  }
  return Status::ok();
}

LeaderElector::LeaderElector(LeaseApi& api, ElectionConfig config, MonoClock mono, WallClock wall)
    : api_(api),
      config_(std::move(config)),
      mono_(mono ? std::move(mono) : MonoClock([] { return std::chrono::steady_clock::now(); })),
      wall_(wall ? std::move(wall) : WallClock([] { return std::chrono::system_clock::now(); })) {}

void LeaderElector::observe(const LeaseRecord& record) {
  if (!observed_ || observed_->holder != record.holder ||
      observed_->renew_time != record.renew_time ||
      observed_->resource_version != record.resource_version) {
    observed_ = record;
    observed_at_ = mono_();
  }
}

void LeaderElector::checkDeadline() {
  if (leading_ && mono_() - last_renew_ > config_.renew_deadline) {
    spdlog::error("leader election: could not renew the lease for {} s; stepping down",
                  config_.renew_deadline.count());
    leading_ = false;
  }
}

LeaseRecord LeaderElector::ours(const LeaseRecord& base, bool acquiring) const {
  LeaseRecord next = base;
  std::string now = microTime(wall_());
  next.holder = config_.identity;
  next.duration_seconds = static_cast<int>(config_.lease_duration.count());
  next.renew_time = now;
  if (acquiring) {
    next.acquire_time = now;
    if (base.holder != config_.identity) next.transitions = base.transitions + 1;
  }
  return next;
}

bool LeaderElector::won(const LeaseRecord& record, const LeaseApi::Write& w) {
  if (w.outcome != LeaseApi::Outcome::kOk) {
    if (w.outcome == LeaseApi::Outcome::kConflict) {
      spdlog::debug("leader election: lost a race on the lease (409)");
    }
    checkDeadline();
    return false;
  }
  LeaseRecord seen = record;
  seen.resource_version = w.resource_version;
  observe(seen);
  last_renew_ = mono_();
  leading_ = true;
  return true;
}

bool LeaderElector::step() {
  auto got = api_.get();
  if (!got) {
    spdlog::warn("leader election: get lease: {}", got.status().message());
    checkDeadline();
    return leading_;
  }
  if (!*got) {
    LeaseRecord fresh = ours(LeaseRecord{}, true);
    fresh.transitions = 0;
    won(fresh, api_.create(fresh));
    return leading_;
  }
  const LeaseRecord& current = **got;
  observe(current);
  if (current.holder == config_.identity) {
    won(current, api_.update(ours(current, !leading_)));
    return leading_;
  }
  if (leading_) {
    spdlog::warn("leader election: the lease is held by '{}' now; stepping down", current.holder);
    leading_ = false;
  }
  auto duration = std::chrono::seconds(
      current.duration_seconds > 0 ? current.duration_seconds : config_.lease_duration.count());
  bool free = current.holder.empty() || mono_() - observed_at_ >= duration;
  if (!free) return false;
  won(current, api_.update(ours(current, true)));
  return leading_;
}

bool LeaderElector::leading() const {
  return leading_ && mono_() - last_renew_ <= config_.renew_deadline;
}

std::optional<std::chrono::steady_clock::time_point> LeaderElector::leadingUntil() const {
  if (!leading_) return std::nullopt;
  return last_renew_ + config_.renew_deadline;
}

bool LeaderElector::release() {
  if (!leading_ || !observed_) {
    leading_ = false;
    return false;
  }
  leading_ = false;
  LeaseRecord next = *observed_;
  next.holder.clear();
  next.duration_seconds = 1;
  next.renew_time = microTime(wall_());
  auto w = api_.update(next);
  if (w.outcome == LeaseApi::Outcome::kOk) {
    next.resource_version = w.resource_version;
    observed_ = next;
    return true;
  }
  return false;
}

}  // namespace petrel::op
