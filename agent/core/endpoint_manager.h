// EndpointManager: the agent's desired state for local pods. It owns IPAM and the endpoint
// records, persists them before answering, and asks the datapath to realise each change.
// Thread-safe: the gRPC server calls it from many threads.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "agent/core/endpoint.h"
#include "agent/core/ipam.h"
#include "agent/core/state_store.h"

namespace petrel::core {

struct AllocatedIp {
  Ipv4Addr ip;
  Ipv4Cidr cidr;
  Ipv4Addr gateway;
  uint32_t mtu = 0;
};

struct EndpointStats {
  uint32_t endpoints = 0;
  uint32_t ready = 0;
  uint64_t ips_allocated = 0;
  uint64_t ips_total = 0;
};

class EndpointManager {
 public:
  EndpointManager(Ipv4Cidr cidr, uint32_t mtu, StateStore& store, EndpointDatapath& datapath);

  // Loads persisted state (a missing file is a fresh start). FAILED_PRECONDITION if the state
  // belongs to another pod CIDR: the agent must not silently forget addresses it handed out.
  Status restore();

  // Allocates (or returns the existing) address for an attachment and records it durably.
  Result<AllocatedIp> allocateIp(const Endpoint& request);
  // Realises an endpoint whose address was allocated: attaches and writes the map.
  // FAILED_PRECONDITION if no address was allocated, INVALID_ARGUMENT if `ip` differs.
  Result<Endpoint> createEndpoint(const Endpoint& request);
  // Removes the endpoint and releases its address. Returns whether it existed.
  Result<bool> deleteEndpoint(const AttachmentKey& key);
  Result<Endpoint> get(const AttachmentKey& key) const;
  std::vector<Endpoint> list() const;
  // Releases every attachment not in `valid`; returns the released ones.
  Result<std::vector<AttachmentKey>> garbageCollect(const std::vector<AttachmentKey>& valid);
  // Re-applies every endpoint and prunes map entries nobody owns (startup, periodic repair).
  Status fullPass();

  EndpointStats stats() const;
  const Ipv4Cidr& cidr() const { return ipam_.cidr(); }

 private:
  Status persistLocked();
  Status removeLocked(const AttachmentKey& key);

  mutable std::mutex mu_;
  uint32_t mtu_;
  StateStore& store_;
  EndpointDatapath& datapath_;
  Ipam ipam_;
  uint32_t next_id_ = 1;
  std::map<AttachmentKey, Endpoint> endpoints_;
};

}  // namespace petrel::core
