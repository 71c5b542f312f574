// Admission: validation and defaulting of objects on create and update (type meta, metadata,
// names, namespace labels, pod phase, service cluster IPs and ports, CRD status).
#pragma once

#include <cstdint>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/sandbox/apiserver/api_error.h"
#include "tools/sandbox/apiserver/registry.h"
#include "tools/sandbox/apiserver/store.h"

namespace petrel::apiserver {

class Admission {
 public:
  // `serviceCidr` is an IPv4 CIDR ClusterIPs are allocated from (first usable + 9 onward).
  Admission(ObjectStore& store, const std::string& serviceCidr);

  // Checks `body` is an object whose apiVersion/kind (when present) match `type`, and whose
  // metadata is well-formed; fills apiVersion/kind when absent.
  std::optional<ApiError> checkShape(const ResourceType& type, nlohmann::json& body) const;

  // Completes a new object: name from generateName, namespace from the URL, uid,
  // creationTimestamp, generation, per-kind defaults; validates the name and per-kind fields.
  // Hold lockAllocations() across prepareCreate and the store write.
  std::optional<ApiError> prepareCreate(const ResourceType& type, const std::string& urlNs,
                                        nlohmann::json& obj);

  // Builds the stored object of an update from `current` and the client's `desired` (already
  // shape-checked): keeps immutable metadata, keeps status unless `statusOnly` (then keeps all
  // but status), re-applies defaults.
  std::optional<ApiError> prepareUpdate(const ResourceType& type, const nlohmann::json& current,
                                        nlohmann::json& desired, bool statusOnly);

  std::unique_lock<std::mutex> lockAllocations() { return std::unique_lock(allocMu_); }

 private:
  std::optional<ApiError> defaultService(const ResourceType& type, nlohmann::json& obj,
                                         const nlohmann::json* current);
  std::optional<ApiError> validate(const ResourceType& type, nlohmann::json& obj) const;

  ObjectStore& store_;
  uint32_t serviceBase_ = 0;
  uint32_t serviceSize_ = 0;
  std::mutex allocMu_;
};

// RFC 3339 UTC timestamp of now ("2026-01-02T03:04:05Z").
std::string nowTimestamp();
// RFC 3339 UTC timestamp of `t`.
std::string formatTimestamp(std::time_t t);
// The time of an RFC 3339 UTC timestamp ("...Z", fractional seconds ignored); nullopt if it is
// not one.
std::optional<std::time_t> parseTimestamp(const std::string& text);
// A random RFC 4122 version-4 UUID.
std::string newUid();
// Empty when `name` is a valid RFC 1123 subdomain, else why not.
std::string dnsSubdomainError(const std::string& name);

}  // namespace petrel::apiserver
