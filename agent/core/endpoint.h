// Endpoint: one pod attachment (container id + interface) as the agent knows it, and the
// interface through which the agent's core asks the datapath to realise it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/status.h"

namespace petrel::core {

struct AttachmentKey {
  std::string container_id;
  std::string ifname;
  std::string toString() const { return container_id + "/" + ifname; }
  auto operator<=>(const AttachmentKey&) const = default;
};

enum class EndpointState {
  kIpAllocated,  // AllocateIp done, CreateEndpoint not yet
  kReady,        // in the endpoint map, program attached
  kNotReady,     // its host interface is gone or the datapath failed; retried by full passes
};

const char* endpointStateName(EndpointState state);

struct Endpoint {
  uint32_t id = 0;
  AttachmentKey key;
  std::string pod_namespace;
  std::string pod_name;
  std::string pod_uid;
  std::string netns;
  Ipv4Addr ip;
  std::string host_ifname;
  uint32_t host_ifindex = 0;
  std::string host_mac;  // "aa:bb:cc:dd:ee:ff"
  std::string pod_mac;
  EndpointState state = EndpointState::kIpAllocated;
};

// What the core needs from the datapath. Implemented over BPF maps and tc in agent/datapath,
// and by an in-memory fake in unit tests.
class EndpointDatapath {
 public:
  virtual ~EndpointDatapath() = default;
  // Attaches the pod program to the endpoint's host interface and writes its map entry.
  // Idempotent. NOT_FOUND if the interface is gone.
  virtual Status apply(const Endpoint& endpoint) = 0;
  // Removes the endpoint's map entry (the interface may already be gone). Idempotent.
  virtual Status remove(const Endpoint& endpoint) = 0;
  // Deletes every map entry whose address is not in `keep` (full-pass repair).
  virtual Status prune(const std::vector<Ipv4Addr>& keep) = 0;
};

}  // namespace petrel::core
