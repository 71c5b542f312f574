/* Verdicts and drop reasons: the one list. It generates the C enum the BPF programs count by
 * (bpf/lib/metrics.h) and the names `petrel bpf metrics list` prints (PETREL_REASONS expanded in
 * tools/petrel/main.cc). Values < 128 are successes, >= 128 are drops. Shared by BPF C and C++. */
#pragma once

#define PETREL_REASONS(X)                                \
  X(FORWARDED, 0, "forwarded")                           \
  X(TO_STACK, 1, "to-stack")                             \
  X(ARP_REPLY, 2, "arp-reply")                           \
  X(TO_TUNNEL, 3, "to-tunnel")                           \
  X(FROM_TUNNEL, 4, "from-tunnel")                       \
  X(MASQUERADED, 5, "masqueraded")                       \
  X(UNMASQUERADED, 6, "unmasqueraded")                   \
  X(LB_FORWARDED, 7, "service-forwarded")                \
  X(LB_REPLIED, 8, "service-reply")                      \
  X(LB_FORWARDED_XDP, 9, "service-forwarded-xdp")        \
  X(LB_REPLIED_XDP, 10, "service-reply-xdp")             \
  X(LB_ICMP_ERROR, 11, "service-icmp-error")             \
  X(LB_REJECTED, 12, "service-rejected")                 \
  X(LB_AFFINITY_MAP_FULL, 13, "affinity-map-full")       \
  X(DROP_INVALID, 130, "invalid-packet")                 \
  X(DROP_SPOOFED_SOURCE, 131, "spoofed-source")          \
  X(DROP_UNKNOWN_ENDPOINT, 132, "unknown-endpoint")      \
  X(DROP_UNSUPPORTED_L3, 133, "unsupported-l3-protocol") \
  X(DROP_REDIRECT_FAILED, 134, "redirect-failed")        \
  X(DROP_ARP_INVALID, 135, "invalid-arp")                \
  X(DROP_NO_TUNNEL, 136, "no-tunnel-endpoint")           \
  X(DROP_TUNNEL_KEY, 137, "tunnel-key-failed")           \
  X(DROP_NAT_NO_PORT, 138, "nat-ports-exhausted")        \
  X(DROP_NAT_UNSUPPORTED, 139, "nat-unsupported-packet") \
  X(DROP_NO_ROUTE, 140, "no-route")                      \
  X(DROP_NO_LOCAL_BACKEND, 141, "no-local-backend")      \
  X(DROP_NO_BACKEND_YET, 142, "backend-not-chosen")      \
  X(DROP_REJECT_RATE, 143, "reject-rate-limited")        \
  X(DROP_CT_MAP_FULL, 144, "ct-map-full")                \
  X(DROP_NAT_MAP_FULL, 145, "nat-map-full")              \
  X(DROP_SOCK_REVNAT_MAP_FULL, 146, "sock-revnat-map-full")

enum petrel_reason {
#define PETREL_REASON_ENUM(name, value, text) PETREL_##name = value,
  PETREL_REASONS(PETREL_REASON_ENUM)
#undef PETREL_REASON_ENUM
};

#define PETREL_REASON_MAX 256
#define PETREL_IS_DROP(reason) ((reason) >= 128)
