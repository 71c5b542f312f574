// Ipam: hands out addresses from the node's pod CIDR to attachments (container id + ifname).
// Never gives one address to two owners; allocation is idempotent per owner; addresses are
// handed out round-robin from a persisted cursor so a released address is the last to be reused
// (a restarted agent never hands out an address a pod may still hold).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/status.h"

namespace petrel::core {

class Ipam {
 public:
  // The network and broadcast addresses and the gateway (first host address) are reserved.
  explicit Ipam(Ipv4Cidr cidr);

  const Ipv4Cidr& cidr() const { return cidr_; }
  Ipv4Addr gateway() const { return cidr_.at(1); }

  // Returns the owner's address, allocating the next free one if it has none.
  // RESOURCE_EXHAUSTED when the CIDR is full.
  Result<Ipv4Addr> allocate(const std::string& owner);
  // Marks `addr` as held by `owner` (restore from persisted state). ALREADY_EXISTS if another
  // owner holds it, INVALID_ARGUMENT if it is outside the CIDR or reserved.
  Status reserve(const std::string& owner, Ipv4Addr addr);
  // Frees the owner's address; returns false if the owner held none.
  bool release(const std::string& owner);
  std::optional<Ipv4Addr> lookup(const std::string& owner) const;

  uint64_t allocated() const { return by_owner_.size(); }
  uint64_t capacity() const;
  // Offset (from the CIDR base) where the next search starts; persisted across restarts.
  uint64_t cursor() const { return cursor_; }
  void setCursor(uint64_t cursor);

 private:
  bool usable(uint64_t offset) const;

  Ipv4Cidr cidr_;
  uint64_t cursor_;
  std::map<std::string, Ipv4Addr> by_owner_;
  std::map<uint32_t, std::string> by_addr_;
};

}  // namespace petrel::core
