// Garbage collection of the flow tables the programs fill (conntrack and NAT): entries idle past
// their protocol's timeout (flow_timeouts.h) are deleted, so ports and slots come back before the
// LRU has to evict live ones.
#pragma once

#include <cstdint>
#include <set>
#include <tuple>

#include "agent/datapath/flow_timeouts.h"
#include "agent/datapath/map_types.h"

namespace petrel::datapath {

struct FlowGcResult {
  uint64_t ct_deleted = 0;
  uint64_t ct_kept = 0;
  uint64_t nat_deleted = 0;
  uint64_t nat_kept = 0;
};

// One pass over both maps at monotonic time `now_ns` (bpf_ktime_get_ns's clock).
Result<FlowGcResult> collectIdleFlows(CtMap& ct, NatMap& nat, uint64_t now_ns,
                                      const FlowTimeouts& timeouts = {});
// A backend: address and port (host order) and protocol (0: either).
using BackendRef = std::tuple<uint32_t, uint16_t, uint8_t>;

// Forgets the connections to `backends`: both conntrack entries of each. Their clients' next
// segments then meet what no backend can take (a reset) instead of a backend that is gone.
// Returns how many entries went.
Result<uint64_t> forgetConnectionsTo(CtMap& ct, const std::set<BackendRef>& backends);
// CLOCK_MONOTONIC in nanoseconds, the programs' clock.
uint64_t monotonicNowNs();

}  // namespace petrel::datapath
