// Ipam: round-robin allocation from a persisted cursor; see ipam.h.
#include "agent/core/ipam.h"

namespace petrel::core {

Ipam::Ipam(Ipv4Cidr cidr) : cidr_(cidr), cursor_(2) {}

bool Ipam::usable(uint64_t offset) const {
  if (cidr_.size() <= 2) return offset < cidr_.size() && offset != 1;  // /31, /32: no network
  return offset >= 2 && offset < cidr_.size() - 1;                     // skip net, gw, bcast
}

uint64_t Ipam::capacity() const {
  uint64_t n = 0;
  if (cidr_.size() <= 2) {
    for (uint64_t i = 0; i < cidr_.size(); ++i) n += usable(i) ? 1 : 0;
    return n;
  }
  return cidr_.size() - 3;
}

void Ipam::setCursor(uint64_t cursor) {
  cursor_ = cursor < cidr_.size() ? cursor : 0;
}

Result<Ipv4Addr> Ipam::allocate(const std::string& owner) {
  if (auto it = by_owner_.find(owner); it != by_owner_.end()) return it->second;
  const uint64_t size = cidr_.size();
  for (uint64_t step = 0; step < size; ++step) {
    uint64_t offset = (cursor_ + step) % size;
    if (!usable(offset)) continue;
    Ipv4Addr addr = cidr_.at(offset);
    if (by_addr_.count(addr.value)) continue;
    by_owner_[owner] = addr;
    by_addr_[addr.value] = owner;
    cursor_ = (offset + 1) % size;
    return addr;
  }
  return makeError(Code::kResourceExhausted, "pod CIDR {} is full: all {} addresses are in use",
                   cidr_.toString(), capacity());
}

Status Ipam::reserve(const std::string& owner, Ipv4Addr addr) {
  if (!cidr_.contains(addr) || !usable(addr.value - cidr_.base.value)) {
    return makeError(Code::kInvalidArgument, "{} is not a usable address of pod CIDR {}",
                     addr.toString(), cidr_.toString());
  }
  if (auto it = by_addr_.find(addr.value); it != by_addr_.end() && it->second != owner) {
    return makeError(Code::kAlreadyExists, "{} is already held by {}", addr.toString(), it->second);
  }
  release(owner);
  by_owner_[owner] = addr;
  by_addr_[addr.value] = owner;
  return Status::ok();
}

bool Ipam::release(const std::string& owner) {
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return false;
  by_addr_.erase(it->second.value);
  by_owner_.erase(it);
  return true;
}

std::optional<Ipv4Addr> Ipam::lookup(const std::string& owner) const {
  if (auto it = by_owner_.find(owner); it != by_owner_.end()) return it->second;
  return std::nullopt;
}

}  // namespace petrel::core
