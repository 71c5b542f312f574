// Admission: validation and defaulting of objects on create and update (type meta, metadata,
// names, namespace labels, pod phase, service cluster IPs and ports, CRD status).
#pragma once

#include <cstdint>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/sandbox/apiserver/allocator.h"
#include "tools/sandbox/apiserver/api_error.h"
#include "tools/sandbox/apiserver/registry.h"
#include "tools/sandbox/apiserver/store.h"

namespace petrel::apiserver {

class Admission {
 public:
  // `serviceCidr` is an IPv4 CIDR ClusterIPs are allocated from (network address + 10 onward).
  // Observes the store's Services to know which ClusterIPs and NodePorts are taken.
  Admission(ObjectStore& store, const std::string& serviceCidr);
  ~Admission();
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // Checks `body` is an object whose apiVersion/kind (when present) match `type`, and whose
  // metadata is well-formed; fills apiVersion/kind when absent.
  std::optional<ApiError> checkShape(const ResourceType& type, nlohmann::json& body) const;

  // Completes a new object: name from generateName, namespace from the URL, uid,
  // creationTimestamp, generation, per-kind defaults; validates the name and per-kind fields.
  // Hold lockAllocations() across prepareCreate / prepareUpdate and the store write.
  std::optional<ApiError> prepareCreate(const ResourceType& type, const std::string& urlNs,
                                        nlohmann::json& obj);

  // Builds the stored object of an update from `current` and the client's `desired` (already
  // shape-checked): keeps immutable metadata, keeps status unless `statusOnly` (then keeps all
  // but status), re-applies defaults.
  std::optional<ApiError> prepareUpdate(const ResourceType& type, const nlohmann::json& current,
                                        nlohmann::json& desired, bool statusOnly);

  // Serialises allocation; on destruction (after the store write) drops the reservations of
  // what prepareCreate / prepareUpdate handed out: the stored object holds them by then, or
  // the write failed and they are free again.
  class AllocationLock {
   public:
    explicit AllocationLock(Admission& a) : admission_(a), lock_(a.allocMu_) {}
    ~AllocationLock() { admission_.allocations_.releaseReservations(); }
    AllocationLock(const AllocationLock&) = delete;
    AllocationLock& operator=(const AllocationLock&) = delete;

   private:
    Admission& admission_;
    std::unique_lock<std::mutex> lock_;
  };
  AllocationLock lockAllocations() { return AllocationLock(*this); }

  // The ClusterIPs and NodePorts in use (tests).
  ServiceAllocations& allocations() { return allocations_; }

 private:
  std::optional<ApiError> defaultService(const ResourceType& type, nlohmann::json& obj,
                                         const nlohmann::json* current);
  std::optional<ApiError> validate(const ResourceType& type, nlohmann::json& obj) const;

  ObjectStore& store_;
  std::mutex allocMu_;
  ServiceAllocations allocations_;
  uint64_t observerId_ = 0;
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
