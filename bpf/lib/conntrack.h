/* Connection tracking for Service connections the packet-level load balancer translates: the CT
 * map (keyed by struct flow_key, see flow.h) and the per-packet bookkeeping (last seen, TCP
 * closing). Idle entries are removed by the agent's garbage collector after their protocol's
 * timeout, and the LRU evicts the oldest when full. */
#pragma once

#include "compiler.h"
#include "flow.h"
#include "maps.h"

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, PETREL_MAX_CT_ENTRIES);
  __type(key, struct flow_key);
  __type(value, struct ct_entry);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_ct SEC(".maps");

#define CT_REFRESH_NS 1000000000ULL /* last_seen is rewritten at most once a second */

/* Marks a packet's passage at `now`: last_seen (at most once a second), the TCP closing state,
 * and whether the backend has answered. Returns 1 when last_seen was refreshed. */
static __always_inline int ct_touch_at(struct ct_entry* e, const struct flow_tuple* t, __u8 seen,
                                       __u64 now) {
  __u8 flags = e->flags | seen;
  if (t->proto == IPPROTO_TCP) {
    if (t->tcp_flags & (FLOW_TCP_FIN | FLOW_TCP_RST)) flags |= CT_F_CLOSING;
  }
  if (flags != e->flags) e->flags = flags;
  if (now - e->last_seen_ns <= CT_REFRESH_NS) return 0;
  e->last_seen_ns = now;
  return 1;
}

static __always_inline void ct_touch(struct ct_entry* e, const struct flow_tuple* t, __u8 seen) {
  ct_touch_at(e, t, seen, bpf_ktime_get_ns());
}

/* The entry of flow `t` in direction `dir` (CT_DIR_*), or NULL. */
static __always_inline struct ct_entry* ct_lookup(const struct flow_tuple* t, __u8 dir) {
  struct flow_key key;
  flow_key_of(&key, t->saddr, t->daddr, t->sport, t->dport, t->proto, dir);
  return bpf_map_lookup_elem(&petrel_ct, &key);
}

/* The reply entry of a connection whose backend answers the client. */
static __always_inline struct ct_entry* ct_lookup_reply(const struct flow_tuple* t) {
  return ct_lookup(t, CT_DIR_REPLY);
}
