// One Service's EndpointSlice reconciliation against an API: read the managed slices, plan
// (endpoint_slices.h), write only what differs, and on 409 Conflict read again and retry. The
// API is an interface so tests drive the retry logic without a server.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace petrel::controller {

enum class WriteOutcome {
  kDone,
  kConflict,  // 409: the slice changed meanwhile (or a generated name collided)
  kGone,      // 404: nothing left to do for this slice
  kFailed,    // anything else; the API logged why
};

class SliceApi {
 public:
  virtual ~SliceApi() = default;
  // The slices managed by us for Service `ns`/`service` (label selector); an error when they
  // cannot be read.
  virtual Result<std::vector<nlohmann::json>> list(const std::string& ns,
                                                   const std::string& service) = 0;
  // Creates `slice` (generateName set); on kDone `*name` is the name the server gave it.
  virtual WriteOutcome create(const nlohmann::json& slice, std::string* name) = 0;
  // Replaces `slice` (its resourceVersion makes a stale write a conflict).
  virtual WriteOutcome update(const nlohmann::json& slice) = 0;
  // Deletes `slice` if it is still at its resourceVersion.
  virtual WriteOutcome remove(const nlohmann::json& slice) = 0;
};

// Brings the slices of Service `ns`/`name` to the desired state. `service` is the Service
// object, or null when it is gone or not managed (then its slices are deleted); `pods` are the
// pods of its namespace. Up to `attempts` read-plan-write rounds while writes conflict. True
// when the slices are as desired, false when the caller should retry later.
bool syncServiceSlices(SliceApi& api, const std::string& ns, const std::string& name,
                       const nlohmann::json& service, const std::vector<nlohmann::json>& pods,
                       int attempts = 5);

}  // namespace petrel::controller
