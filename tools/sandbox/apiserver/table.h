// Server-side printing: meta.k8s.io/v1 Table answers for `kubectl get` (columns per kind, like
// the real server's: pods show READY/STATUS/RESTARTS/AGE and, with -o wide, IP/NODE).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/sandbox/apiserver/registry.h"

namespace petrel::apiserver {

enum class IncludeObject { kNone, kMetadata, kObject };

// True when the Accept header asks for a Table (as=Table;g=meta.k8s.io).
bool wantsTable(const std::string& accept);
IncludeObject includeObjectFromQuery(const std::string& value);

// The value at a JSONPath of the subset CRD printer columns use: ".a.b" and one or more
// "[?(@.key=='value')]" filters (first matching element); null when absent or unsupported.
nlohmann::json evalJsonPath(const nlohmann::json& obj, const std::string& path);

// A Table of `objects`; `listMeta` is copied into the Table's metadata.
nlohmann::json toTable(const ResourceType& type, const std::vector<nlohmann::json>& objects,
                       const nlohmann::json& listMeta, IncludeObject include,
                       std::chrono::system_clock::time_point now);

// "5s", "3m20s", "7h", "12d": kubectl's compact age format.
std::string humanAge(std::chrono::seconds age);

}  // namespace petrel::apiserver
