// CidrPool: lowest-free allocation of node CIDRs from the cluster pool.
#include "operator/cidr_pool.h"

namespace petrel::op {

Result<CidrPool> CidrPool::create(const std::string& pool, int node_mask) {
  if (pool.find(':') != std::string::npos) {
    return Status(Code::kInvalidArgument, "cluster pool " + pool + ": only IPv4 is supported");
  }
  auto cidr = Ipv4Cidr::parse(pool);
  if (!cidr) {
    return Status(Code::kInvalidArgument,
                  "cluster pool '" + pool + "' is not an IPv4 CIDR with host bits clear");
  }
  if (node_mask <= cidr->prefix_len || node_mask > 32) {
    return Status(Code::kInvalidArgument, "node CIDR mask /" + std::to_string(node_mask) +
                                              " must be longer than the pool's /" +
                                              std::to_string(cidr->prefix_len) +
                                              " and at most /32");
  }
  if (node_mask - cidr->prefix_len > kMaxMaskBits) {
    return Status(Code::kInvalidArgument, "node CIDR mask /" + std::to_string(node_mask) +
                                              " cuts " + pool + " into more than 2^" +
                                              std::to_string(kMaxMaskBits) + " node CIDRs");
  }
  return CidrPool(*cidr, node_mask);
}

CidrPool::CidrPool(Ipv4Cidr pool, int node_mask)
    : pool_(pool), node_mask_(node_mask), used_(uint64_t{1} << (node_mask - pool.prefix_len)) {}

std::optional<uint64_t> CidrPool::indexOf(const Ipv4Cidr& cidr, Reserve* why) const {
  if (cidr.prefix_len != node_mask_) {
    if (why) *why = Reserve::kWrongSize;
    return std::nullopt;
  }
  if (!pool_.contains(cidr.base)) {
    if (why) *why = Reserve::kOutOfPool;
    return std::nullopt;
  }
  return (cidr.base.value - pool_.base.value) >> (32 - node_mask_);
}

CidrPool::Reserve CidrPool::reserve(const Ipv4Cidr& cidr) {
  Reserve why = Reserve::kOk;
  auto index = indexOf(cidr, &why);
  if (!index) return why;
  if (used_[*index]) return Reserve::kTaken;
  used_[*index] = true;
  ++used_count_;
  return Reserve::kOk;
}

std::optional<Ipv4Cidr> CidrPool::allocate() {
  for (uint64_t i = next_hint_; i < used_.size(); ++i) {
    if (used_[i]) continue;
    used_[i] = true;
    ++used_count_;
    next_hint_ = i + 1;
    return Ipv4Cidr{pool_.at(i << (32 - node_mask_)), static_cast<uint8_t>(node_mask_)};
  }
  next_hint_ = used_.size();
  return std::nullopt;
}

bool CidrPool::release(const Ipv4Cidr& cidr) {
  auto index = indexOf(cidr);
  if (!index || !used_[*index]) return false;
  used_[*index] = false;
  --used_count_;
  if (*index < next_hint_) next_hint_ = *index;
  return true;
}

bool CidrPool::used(const Ipv4Cidr& cidr) const {
  auto index = indexOf(cidr);
  return index && used_[*index];
}

const char* reserveName(CidrPool::Reserve r) {
  switch (r) {
    case CidrPool::Reserve::kOk:
      return "ok";
    case CidrPool::Reserve::kOutOfPool:
      return "outside the cluster pool";
    case CidrPool::Reserve::kWrongSize:
      return "not of the node CIDR size";
    case CidrPool::Reserve::kTaken:
      return "already held by another node";
  }
  return "?";
}

}  // namespace petrel::op
