// Garbage collection of the flow tables the programs fill (conntrack and NAT): entries idle past
// their protocol's timeout are deleted, so ports and slots come back before the LRU has to evict
// live ones. Timeouts follow the kernel's conntrack defaults in spirit: a TCP connection that never
// got an answer or is closing goes quickly, an established one lives for hours, UDP for a minute.
#pragma once

#include <cstdint>
#include <set>
#include <tuple>

#include "agent/datapath/map_types.h"

namespace petrel::datapath {

struct FlowTimeouts {
  uint64_t tcp_established_ns = 6ull * 3600 * 1000000000ull;
  uint64_t tcp_unanswered_ns = 60ull * 1000000000ull;  // conntrack only: the backend never answered
  uint64_t tcp_closing_ns = 10ull * 1000000000ull;     // both directions closed
  uint64_t tcp_half_closed_ns = 120ull * 1000000000ull;  // conntrack: one direction closed
  uint64_t other_ns = 60ull * 1000000000ull;             // UDP, ICMP
};

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
