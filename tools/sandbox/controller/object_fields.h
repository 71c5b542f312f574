// Small readers for the API JSON fields the controllers use; each tolerates missing or
// wrongly typed fields (they read as empty / false) so a bad object never throws.
#pragma once

#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

namespace petrel::controller {

// The value at `path` (object keys), or null when any step is missing or not an object.
inline const nlohmann::json& fieldAt(const nlohmann::json& obj,
                                     std::initializer_list<const char*> path) {
  static const nlohmann::json kNull;
  const nlohmann::json* cur = &obj;
  for (const char* key : path) {
    if (!cur->is_object()) return kNull;
    auto it = cur->find(key);
    if (it == cur->end()) return kNull;
    cur = &*it;
  }
  return *cur;
}

// The string at `path`, or "" when absent or not a string.
inline std::string stringAt(const nlohmann::json& obj, std::initializer_list<const char*> path) {
  const nlohmann::json& v = fieldAt(obj, path);
  return v.is_string() ? v.get<std::string>() : "";
}

// "namespace/name" (or "name" for cluster-scoped objects).
inline std::string objectKey(const nlohmann::json& obj) {
  std::string ns = stringAt(obj, {"metadata", "namespace"});
  std::string name = stringAt(obj, {"metadata", "name"});
  return ns.empty() ? name : ns + "/" + name;
}

// True when `obj` has a condition of `type` with status "True" (status.conditions).
inline bool conditionTrue(const nlohmann::json& obj, const char* type) {
  const nlohmann::json& conds = fieldAt(obj, {"status", "conditions"});
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
