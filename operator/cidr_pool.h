// CidrPool: the cluster's pod-CIDR pool (e.g. 10.244.0.0/16) cut into equal node CIDRs (e.g.
// /24s) with the set of those in use. Hands out the lowest free one; pure, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/status.h"

namespace petrel::op {

// At most 2^16 node CIDRs per pool (kube-controller-manager has the same bound).
inline constexpr int kMaxMaskBits = 16;

class CidrPool {
 public:
  // INVALID_ARGUMENT unless `pool` is an IPv4 CIDR and pool prefix < node_mask <= 32 with at most
  // kMaxMaskBits between them.
  static Result<CidrPool> create(const std::string& pool, int node_mask);

  // Why a CIDR cannot be marked used.
  enum class Reserve { kOk, kOutOfPool, kWrongSize, kTaken };
  // Marks `cidr` used. Not kOk: nothing changed.
  Reserve reserve(const Ipv4Cidr& cidr);
  // The lowest free node CIDR, now marked used; nullopt when the pool is exhausted.
  std::optional<Ipv4Cidr> allocate();
  // Frees `cidr`; false when it was not used (or is not one of the pool's CIDRs).
  bool release(const Ipv4Cidr& cidr);

  bool used(const Ipv4Cidr& cidr) const;
  uint64_t capacity() const { return used_.size(); }
  uint64_t usedCount() const { return used_count_; }
  const Ipv4Cidr& pool() const { return pool_; }
  int nodeMask() const { return node_mask_; }

 private:
  CidrPool(Ipv4Cidr pool, int node_mask);
  // Index of `cidr` in the pool, or nullopt (with the reason) when it is not one of its CIDRs.
  std::optional<uint64_t> indexOf(const Ipv4Cidr& cidr, Reserve* why = nullptr) const;

  Ipv4Cidr pool_;
  int node_mask_;
  std::vector<bool> used_;
  uint64_t used_count_ = 0;
  uint64_t next_hint_ = 0;  // no free CIDR below this index
};

const char* reserveName(CidrPool::Reserve r);

}  // namespace petrel::op
