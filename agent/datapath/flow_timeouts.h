// FlowTimeouts: how long an idle flow lives in the conntrack and NAT maps — the one definition.
// The garbage collector applies them (flow_gc.h) and the uplink programs get them in their
// settings (nat_config, uplink.h), where they decide when an idle flow's port may be taken over.
// They follow the kernel's conntrack defaults in spirit (README, "Service load balancing"): an
// answered TCP connection lives 6 h idle, a half-closed one 2 min, one never answered 60 s, one
// closed both ways 10 s; UDP and ICMP 60 s.
#pragma once

#include <cstdint>

namespace petrel::datapath {

inline constexpr uint64_t kNsPerSecond = 1000000000ull;

struct FlowTimeouts {
  uint64_t tcp_established_ns = 6 * 3600 * kNsPerSecond;
  uint64_t tcp_unanswered_ns = 60 * kNsPerSecond;  // conntrack only: the backend never answered
  uint64_t tcp_closing_ns = 10 * kNsPerSecond;     // both directions closed (NAT: FIN or RST seen)
  uint64_t tcp_half_closed_ns = 120 * kNsPerSecond;  // conntrack: one direction closed
  uint64_t other_ns = 60 * kNsPerSecond;             // UDP, ICMP
};

}  // namespace petrel::datapath
