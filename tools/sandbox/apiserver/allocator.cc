// IndexPool and ServiceAllocations.
#include "tools/sandbox/apiserver/allocator.h"

#include <arpa/inet.h>

#include <algorithm>

namespace petrel::apiserver {

using nlohmann::json;

// --- IndexPool

IndexPool::IndexPool(uint64_t first, uint64_t last) : first_(first), last_(last), next_(first) {}

void IndexPool::hold(uint64_t v) {
  if (++holders_[v] == 1 && inRange(v) && v < next_) freeBelow_.erase(v);
}

void IndexPool::release(uint64_t v) {
  auto it = holders_.find(v);
  if (it == holders_.end()) return;
  if (--it->second != 0) return;
  holders_.erase(it);
  if (inRange(v) && v < next_) freeBelow_.insert(v);
}

std::optional<uint64_t> IndexPool::lowestFree() {
  if (!freeBelow_.empty()) return *freeBelow_.begin();
  // Every value below next_ is held: skip held values upwards (each is passed once overall).
  while (next_ <= last_ && held(next_)) ++next_;
  if (next_ > last_) return std::nullopt;
  return next_;
}

void IndexPool::clear() {
  holders_.clear();
  freeBelow_.clear();
  next_ = first_;
}

// --- ServiceAllocations

namespace {

std::pair<uint32_t, uint32_t> parseCidr(const std::string& cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return {0, 0};
  int prefix = -1;
  try {
    prefix = std::stoi(cidr.substr(slash + 1));
  } catch (...) {
    return {0, 0};
  }
  in_addr a{};
  if (inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &a) != 1 || prefix < 8 || prefix > 28) {
    return {0, 0};
  }
  uint32_t size = 1u << (32 - prefix);
  return {ntohl(a.s_addr) & ~(size - 1), size};
}

}  // namespace

ServiceAllocations::ServiceAllocations(const std::string& serviceCidr)
    : cidr_(serviceCidr),
      ipBase_(parseCidr(serviceCidr).first),
      ipSize_(parseCidr(serviceCidr).second),
      // Empty range (first > last) without a usable CIDR.
      ips_(ipSize_ ? uint64_t{ipBase_} + 10 : 1, ipSize_ ? uint64_t{ipBase_} + ipSize_ - 2 : 0),
      nodePorts_(kNodePortFirst, kNodePortLast) {}

std::optional<uint32_t> ServiceAllocations::parseIp(const std::string& ip) {
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string ServiceAllocations::formatIp(uint32_t hostOrder) {
  in_addr a{htonl(hostOrder)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

std::vector<uint32_t> ServiceAllocations::ipsOf(const json& svc) {
  std::vector<uint32_t> out;
  if (!svc.is_object() || !svc.contains("spec") || !svc["spec"].is_object()) return out;
  const json& spec = svc["spec"];
  auto add = [&](const json& v) {
    if (!v.is_string()) return;
    auto ip = parseIp(v.get<std::string>());
    if (ip && std::find(out.begin(), out.end(), *ip) == out.end()) out.push_back(*ip);
  };
  if (spec.contains("clusterIP")) add(spec["clusterIP"]);
  if (spec.contains("clusterIPs") && spec["clusterIPs"].is_array()) {
    for (const auto& v : spec["clusterIPs"]) add(v);
  }
  return out;
}

std::vector<int64_t> ServiceAllocations::nodePortsOf(const json& svc) {
  std::vector<int64_t> out;
  if (!svc.is_object() || !svc.contains("spec") || !svc["spec"].is_object()) return out;
  const json& spec = svc["spec"];
  if (!spec.contains("ports") || !spec["ports"].is_array()) return out;
  for (const auto& p : spec["ports"]) {
    if (!p.is_object() || !p.contains("nodePort") || !p["nodePort"].is_number_integer()) continue;
    int64_t np = p["nodePort"].get<int64_t>();
    if (np > 0 && std::find(out.begin(), out.end(), np) == out.end()) out.push_back(np);
  }
  return out;
}

void ServiceAllocations::reset() {
  std::lock_guard lock(mu_);
  ips_.clear();
  nodePorts_.clear();
  // Reservations of an admission in progress stay held.
  for (uint32_t ip : reservedIps_) ips_.hold(ip);
  for (int64_t np : reservedNodePorts_) nodePorts_.hold(static_cast<uint64_t>(np));
}

void ServiceAllocations::apply(const json* before, const json* after) {
  std::lock_guard lock(mu_);
  // Hold the new values before releasing the old ones, so a kept value never looks free.
  if (after) {
    for (uint32_t ip : ipsOf(*after)) ips_.hold(ip);
    for (int64_t np : nodePortsOf(*after)) nodePorts_.hold(static_cast<uint64_t>(np));
  }
  if (before) {
    for (uint32_t ip : ipsOf(*before)) ips_.release(ip);
    for (int64_t np : nodePortsOf(*before)) nodePorts_.release(static_cast<uint64_t>(np));
  }
}

std::optional<std::string> ServiceAllocations::reserveIp() {
  std::lock_guard lock(mu_);
  auto v = ips_.lowestFree();
  if (!v) return std::nullopt;
  ips_.hold(*v);
  reservedIps_.push_back(static_cast<uint32_t>(*v));
  return formatIp(static_cast<uint32_t>(*v));
}

bool ServiceAllocations::ipTaken(const std::string& ip) {
  auto v = parseIp(ip);
  if (!v) return false;
  std::lock_guard lock(mu_);
  return ips_.held(*v);
}

bool ServiceAllocations::ipInRange(const std::string& ip) const {
  auto v = parseIp(ip);
  return v && ipSize_ != 0 && *v >= ipBase_ && *v - ipBase_ < ipSize_;
}

void ServiceAllocations::reserveIpAddress(const std::string& ip) {
  auto v = parseIp(ip);
  if (!v) return;
  std::lock_guard lock(mu_);
  ips_.hold(*v);
  reservedIps_.push_back(*v);
}

std::optional<int64_t> ServiceAllocations::reserveNodePort() {
  std::lock_guard lock(mu_);
  auto v = nodePorts_.lowestFree();
  if (!v) return std::nullopt;
  nodePorts_.hold(*v);
  reservedNodePorts_.push_back(static_cast<int64_t>(*v));
  return static_cast<int64_t>(*v);
}

bool ServiceAllocations::nodePortTaken(int64_t port) {
  std::lock_guard lock(mu_);
  return port > 0 && nodePorts_.held(static_cast<uint64_t>(port));
}

void ServiceAllocations::reserveNodePortValue(int64_t port) {
  if (port <= 0) return;
  std::lock_guard lock(mu_);
  nodePorts_.hold(static_cast<uint64_t>(port));
  reservedNodePorts_.push_back(port);
}

void ServiceAllocations::releaseReservations() {
  std::lock_guard lock(mu_);
  for (uint32_t ip : reservedIps_) ips_.release(ip);
  for (int64_t np : reservedNodePorts_) nodePorts_.release(static_cast<uint64_t>(np));
  reservedIps_.clear();
  reservedNodePorts_.clear();
}

size_t ServiceAllocations::heldIps() {
  std::lock_guard lock(mu_);
  return ips_.heldCount();
}

size_t ServiceAllocations::heldNodePorts() {
  std::lock_guard lock(mu_);
  return nodePorts_.heldCount();
}

}  // namespace petrel::apiserver
