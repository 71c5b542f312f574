// Merge, JSON and strategic merge patches.
#include "tools/sandbox/apiserver/patch.h"

#include <algorithm>
#include <map>

namespace petrel::apiserver {

using nlohmann::json;

Result<PatchType> patchTypeFromContentType(const std::string& contentType) {
  std::string ct = contentType.substr(0, contentType.find(';'));
  if (ct == "application/merge-patch+json") return PatchType::kMerge;
  if (ct == "application/strategic-merge-patch+json") return PatchType::kStrategicMerge;
  if (ct == "application/json-patch+json") return PatchType::kJsonPatch;
  return Status(Code::kInvalidArgument,
                "the body of the request was in an unknown format - "
                "accepted media types include: "
                "application/json-patch+json, "
                "application/merge-patch+json, "
                "application/strategic-merge-patch+json");
}

namespace {

constexpr int kMaxDepth = 64;

// The merge key of list `field` whose elements look like `sample`, or "" (atomic list).
std::string knownMergeKey(const std::string& field, const json& sample) {
  static const std::map<std::string, std::string> kKeys = {
      {"containers", "name"},
      {"initContainers", "name"},
      {"ephemeralContainers", "name"},
      {"env", "name"},
      {"volumes", "name"},
      {"imagePullSecrets", "name"},
      {"volumeMounts", "mountPath"},
      {"conditions", "type"},
      {"ownerReferences", "uid"},
      {"hostAliases", "ip"},
  };
  if (field == "ports") {
    if (sample.is_object() && sample.contains("containerPort")) return "containerPort";
    return "port";
  }
  auto it = kKeys.find(field);
  return it == kKeys.end() ? "" : it->second;
}

Result<json> smp(const json& original, const json& patch, int depth);

Result<json> mergeList(const json& original, const json& patch, const std::string& key,
                       const json& order, int depth) {
  json result = original.is_array() ? original : json::array();
  for (const auto& p : patch) {
    if (!p.is_object() || !p.contains(key)) {
      return Status(Code::kInvalidArgument,
                    "map: " + p.dump() + " does not contain declared merge key: " + key);
    }
    auto same = [&](const json& e) { return e.is_object() && e.contains(key) && e[key] == p[key]; };
    auto it = std::find_if(result.begin(), result.end(), same);
    if (p.contains("$patch") && p["$patch"] == "delete") {
      if (it != result.end()) result.erase(it);
      continue;
    }
    if (it != result.end()) {
      auto merged = smp(*it, p, depth + 1);
      if (!merged) return merged.status();
      *it = std::move(*merged);
    } else {
      auto fresh = smp(json::object(), p, depth + 1);
      if (!fresh) return fresh.status();
      result.push_back(std::move(*fresh));
    }
  }
  if (order.is_array()) {
    json sorted = json::array();
    for (const auto& o : order) {
      if (!o.is_object() || !o.contains(key)) continue;
      for (auto& e : result) {
        if (e.is_object() && e.contains(key) && e[key] == o[key]) {
          sorted.push_back(e);
          break;
        }
      }
    }
    for (const auto& e : result) {
      if (std::find(sorted.begin(), sorted.end(), e) == sorted.end()) sorted.push_back(e);
    }
    result = std::move(sorted);
  }
  return result;
}

Result<json> smp(const json& original, const json& patch, int depth) {
  if (depth > kMaxDepth) return Status(Code::kInvalidArgument, "patch nested too deeply");
  if (!patch.is_object()) return patch;
  if (patch.contains("$patch")) {
    if (patch["$patch"] == "replace") {
      json r = patch;
      r.erase("$patch");
      return r;
    }
    if (patch["$patch"] == "delete") return json();
  }
  json result = original.is_object() ? original : json::object();
  for (const auto& [k, v] : patch.items()) {
    if (k == "$patch" || k == "$retainKeys") continue;
    if (k.rfind("$setElementOrder/", 0) == 0) continue;
    if (k.rfind("$deleteFromPrimitiveList/", 0) == 0) {
      std::string field = k.substr(std::string("$deleteFromPrimitiveList/").size());
      if (result.contains(field) && result[field].is_array() && v.is_array()) {
        json kept = json::array();
        for (const auto& e : result[field]) {
          if (std::find(v.begin(), v.end(), e) == v.end()) kept.push_back(e);
        }
        result[field] = kept;
      }
      continue;
    }
    if (v.is_null()) {
      result.erase(k);
      continue;
    }
    if (v.is_object()) {
      auto merged = smp(result.contains(k) ? result[k] : json(), v, depth + 1);
      if (!merged) return merged.status();
      if (merged->is_null()) {
        result.erase(k);
      } else {
        result[k] = std::move(*merged);
      }
      continue;
    }
    if (v.is_array() && !v.empty() && v[0].is_object()) {
      json order =
          patch.contains("$setElementOrder/" + k) ? patch["$setElementOrder/" + k] : json();
      std::string key;
      if (order.is_array() && !order.empty() && order[0].is_object() && order[0].size() == 1) {
        key = order[0].begin().key();
      } else {
        const json& sample =
            result.contains(k) && result[k].is_array() && !result[k].empty() ? result[k][0] : v[0];
        key = knownMergeKey(k, sample);
      }
      if (!key.empty()) {
        auto merged = mergeList(result.contains(k) ? result[k] : json(), v, key, order, depth);
        if (!merged) return merged.status();
        result[k] = std::move(*merged);
        continue;
      }
    }
    result[k] = v;
  }
  if (patch.contains("$retainKeys") && patch["$retainKeys"].is_array()) {
    const json& keep = patch["$retainKeys"];
    for (auto it = result.begin(); it != result.end();) {
      if (std::find(keep.begin(), keep.end(), it.key()) == keep.end()) {
        it = result.erase(it);
      } else {
        ++it;
      }
    }
  }
  return result;
}

}  // namespace

Result<json> applyPatch(const json& original, const json& patch, PatchType type) {
  try {
    switch (type) {
      case PatchType::kMerge: {
        if (!patch.is_object()) {
          return Status(Code::kInvalidArgument, "merge patch must be a JSON object");
        }
        json r = original;
        r.merge_patch(patch);
        return r;
      }
      case PatchType::kStrategicMerge:
        if (!patch.is_object()) {
          return Status(Code::kInvalidArgument, "strategic merge patch must be a JSON object");
        }
        return smp(original, patch, 0);
      case PatchType::kJsonPatch:
        if (!patch.is_array()) {
          return Status(Code::kInvalidArgument, "json patch must be a JSON array of operations");
        }
        return original.patch(patch);
    }
  } catch (const json::exception& e) {
    return Status(Code::kInvalidArgument,
                  std::string("the patch could not be applied: ") + e.what());
  }
  return Status(Code::kInvalidArgument, "unknown patch type");
}

}  // namespace petrel::apiserver
