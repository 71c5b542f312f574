// One Service's slice reconciliation: read, plan, write, retry on conflict.
#include "tools/sandbox/controller/slice_sync.h"

#include <spdlog/spdlog.h>

#include "tools/sandbox/controller/endpoint_slices.h"
#include "tools/sandbox/controller/object_fields.h"

namespace petrel::controller {

using nlohmann::json;

bool syncServiceSlices(SliceApi& api, const std::string& ns, const std::string& name,
                       const json& service, const std::vector<json>& pods, int attempts) {
  const json managed = service.is_object() && managesService(service) ? service : json();
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto existing = api.list(ns, name);
    if (!existing) {
      spdlog::warn("list endpointslices of {}/{}: {}", ns, name, existing.status().message());
      return false;
    }
    auto desired = managed.is_null() ? std::vector<DesiredSlice>{} : desiredSlices(managed, pods);
    SlicePlan plan = planSlices(managed, desired, *existing);
    if (plan.empty()) return true;
    bool conflict = false, failed = false;
    auto note = [&](WriteOutcome o) {
      conflict |= o == WriteOutcome::kConflict;
      failed |= o == WriteOutcome::kFailed;
      return o == WriteOutcome::kDone;
    };
    for (const auto& slice : plan.update) {
      if (note(api.update(slice))) {
        spdlog::info("endpointslice {}/{}: {}", ns, stringAt(slice, {"metadata", "name"}),
                     summarizeEndpoints(slice));
      }
    }
    for (const auto& slice : plan.create) {
      std::string created;
      if (note(api.create(slice, &created))) {
        spdlog::info("endpointslice {}/{}: {} (created)", ns, created, summarizeEndpoints(slice));
      }
    }
    for (const auto& slice : plan.remove) {
      if (note(api.remove(slice))) {
        spdlog::info("endpointslice {}/{} deleted ({})", ns, stringAt(slice, {"metadata", "name"}),
                     managed.is_null() ? "service gone or without selector" : "not needed");
      }
    }
    if (failed) return false;
    if (!conflict) return true;
    spdlog::debug("endpointslices of {}/{}: conflict, reading them again", ns, name);
  }
  return false;
}

}  // namespace petrel::controller
