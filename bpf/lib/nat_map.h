/* The NAT map (keyed by struct flow_key, see flow.h) and what every program that touches it
 * needs: the per-packet bookkeeping, and remembering UDP flows opened from outside toward a pod
 * (so masquerading leaves the pod's answers alone). Included by the uplink programs (via nat.h)
 * and the overlay's ingress, where such flows arrive from other nodes. */
#pragma once

#include "compiler.h"
#include "flow.h"
#include "maps.h"

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, PETREL_MAX_NAT_ENTRIES);
  __type(key, struct flow_key);
  __type(value, struct nat_entry);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_nat SEC(".maps");

#define NAT_REFRESH_NS 1000000000ULL /* last_seen is rewritten at most once a second */

/* The entry of flow `t` in direction `dir` (NAT_DIR_*), or NULL. */
static __always_inline struct nat_entry* nat_lookup(const struct flow_tuple* t, __u8 dir) {
  struct flow_key key;
  flow_key_of(&key, t->saddr, t->daddr, t->sport, t->dport, t->proto, dir);
  return bpf_map_lookup_elem(&petrel_nat, &key);
}

/* Marks a packet's passage: last_seen (at most once a second) and the TCP closing state. */
static __always_inline void nat_entry_touch(struct nat_entry* e, const struct flow_tuple* t,
                                            __u64 now) {
  __u8 flags = e->flags;
  if (t->proto == IPPROTO_TCP) {
    if (t->tcp_flags & (FLOW_TCP_FIN | FLOW_TCP_RST))
      flags |= NAT_F_CLOSING;
    else if ((t->tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK)) == FLOW_TCP_SYN)
      flags &= ~NAT_F_CLOSING;
  }
  if (flags != e->flags) e->flags = flags;
  if (now - e->last_seen_ns > NAT_REFRESH_NS) e->last_seen_ns = now;
}

/* A UDP packet from outside to a pod: remember the flow so the pod's answers keep its address
 * (TCP and ICMP answers are recognised by their flags and type). Returns 0, or -1 when the map
 * refused the entry (full, nothing the LRU could evict): the pod's answers would leave
 * masqueraded, so the caller drops the packet as PETREL_DROP_NAT_MAP_FULL. */
static __always_inline int nat_remember_inbound_udp(const struct flow_tuple* t) {
  struct flow_key key;
  flow_key_of(&key, t->daddr, t->saddr, t->dport, t->sport, t->proto, NAT_DIR_EGRESS);
  __u64 now = bpf_ktime_get_ns();
  struct nat_entry* e = bpf_map_lookup_elem(&petrel_nat, &key);
  if (e) {
    nat_entry_touch(e, t, now);
    return 0;
  }
  struct nat_entry pass = {
      .to_addr = t->daddr, .to_port = t->dport, .flags = NAT_F_PASSTHROUGH, .last_seen_ns = now};
  long err = bpf_map_update_elem(&petrel_nat, &key, &pass, BPF_NOEXIST);
  return err == 0 || err == -EEXIST ? 0 : -1; /* EEXIST: another CPU remembered it */
}
