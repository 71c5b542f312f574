// Service allocations: which ClusterIPs and NodePorts the stored Services hold, and the lowest
// free one of each, in O(log n) per operation. ServiceAllocations is fed by the store's change
// observer (creates, updates, every kind of delete, snapshot restores), so it never needs to scan
// the Services; Admission asks it and reserves what it hands out until the store has committed.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace petrel::apiserver {

// Integers with holder counts; hands out the lowest unheld value of [first, last]. Values outside
// the range may be held too (they are then "taken" but never handed out). Not thread-safe.
class IndexPool {
 public:
  IndexPool(uint64_t first, uint64_t last);

  bool inRange(uint64_t v) const { return v >= first_ && v <= last_; }
  bool held(uint64_t v) const { return holders_.count(v) != 0; }
  // Adds one holder of `v`.
  void hold(uint64_t v);
  // Removes one holder of `v` (no-op when unheld).
  void release(uint64_t v);
  // The lowest unheld value in the range, nullopt when all are held. Does not hold it.
  std::optional<uint64_t> lowestFree();
  // Distinct values held.
  size_t heldCount() const { return holders_.size(); }
  void clear();

 private:
  uint64_t first_;
  uint64_t last_;
  std::unordered_map<uint64_t, uint32_t> holders_;
  // Invariant: freeBelow_ holds exactly the unheld values in [first_, next_).
  std::set<uint64_t> freeBelow_;
  uint64_t next_;
};

class ServiceAllocations {
 public:
  static constexpr int64_t kNodePortFirst = 30000;
  static constexpr int64_t kNodePortLast = 32767;

  // `serviceCidr`: IPv4 CIDR with a prefix of 8..28; ClusterIPs are handed out from its
  // network address + 10 up to the address before broadcast. An unusable CIDR gives no range
  // (every allocation fails; requested addresses are still tracked).
  explicit ServiceAllocations(const std::string& serviceCidr);

  bool hasIpRange() const { return ipSize_ != 0; }
  const std::string& cidr() const { return cidr_; }

  // Observer side: forget everything / account for one Service changing (nullptr = absent).
  void reset();
  void apply(const nlohmann::json* before, const nlohmann::json* after);

  // Admission side. Reservations count as holders until released.
  // The lowest free ClusterIP, reserved; nullopt when the range is exhausted or absent.
  std::optional<std::string> reserveIp();
  // Whether `ip` (dotted IPv4) is held by a Service or a reservation.
  bool ipTaken(const std::string& ip);
  // Whether `ip` parses as IPv4 and lies in the service CIDR.
  bool ipInRange(const std::string& ip) const;
  // Reserves `ip`, which must parse (see ipInRange / ipTaken first).
  void reserveIpAddress(const std::string& ip);
  // The lowest free NodePort, reserved; nullopt when all are held.
  std::optional<int64_t> reserveNodePort();
  bool nodePortTaken(int64_t port);
  void reserveNodePortValue(int64_t port);
  // Drops every reservation (after the store committed or refused the object).
  void releaseReservations();

  // For tests and metrics.
  size_t heldIps();
  size_t heldNodePorts();

 private:
  static std::optional<uint32_t> parseIp(const std::string& ip);
  static std::string formatIp(uint32_t hostOrder);
  // The addresses and ports `svc` holds.
  static std::vector<uint32_t> ipsOf(const nlohmann::json& svc);
  static std::vector<int64_t> nodePortsOf(const nlohmann::json& svc);

  std::string cidr_;
  uint32_t ipBase_ = 0;
  uint32_t ipSize_ = 0;
  std::mutex mu_;
  IndexPool ips_;
  IndexPool nodePorts_;
  std::vector<uint32_t> reservedIps_;
  std::vector<int64_t> reservedNodePorts_;
};

}  // namespace petrel::apiserver
