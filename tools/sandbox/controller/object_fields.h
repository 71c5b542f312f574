// Small readers for the API JSON fields the controllers use, on common/json_path.h; each
// tolerates missing or wrongly typed fields (they read as empty / false) so a bad object never
// throws.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/json_path.h"

namespace petrel::controller {

// "namespace/name" (or "name" for cluster-scoped objects).
inline std::string objectKey(const nlohmann::json& obj) {
  std::string ns = stringAt(obj, {"metadata", "namespace"});
  std::string name = stringAt(obj, {"metadata", "name"});
  return ns.empty() ? name : ns + "/" + name;
}

// True when `obj` has a condition of `type` with status "True" (status.conditions).
inline bool conditionTrue(const nlohmann::json& obj, const char* type) {
  const nlohmann::json& conds = jsonAt(obj, {"status", "conditions"});
  if (!conds.is_array()) return false;
  for (const auto& c : conds) {
    if (stringAt(c, {"type"}) == type) return stringAt(c, {"status"}) == "True";
  }
  return false;
}

inline bool isTerminating(const nlohmann::json& obj) {
  return !stringAt(obj, {"metadata", "deletionTimestamp"}).empty();
}

// A pod in phase Succeeded or Failed: it will never run again.
inline bool podFinished(const nlohmann::json& pod) {
  std::string phase = stringAt(pod, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace petrel::controller
