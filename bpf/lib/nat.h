/* Masquerading (source NAT to the node address): the NAT map, its settings and port
 * allocation. Used by the uplink programs, for pods' traffic to the outside and for Service
 * traffic sent on to a backend on another node. */
#pragma once

#include "compiler.h"
#include "flow.h"
#include "maps.h"
#include "nat_map.h"
#include "reasons.h"

/* Written by the agent (and the tests) through the skeleton's mmapped .bss. */
struct nat_config nat_config = {};

#define NAT_PORT_TRIES 32 /* probes for a free port before giving up */

static __always_inline int nat_entry_stale(const struct nat_entry* e, __u8 proto, __u64 now) {
  __u64 timeout = nat_config.udp_timeout_ns;
  if (proto == IPPROTO_TCP)
    timeout = e->flags & NAT_F_CLOSING ? nat_config.closing_timeout_ns : nat_config.tcp_timeout_ns;
  return now - e->last_seen_ns > timeout;
}

/* The reply-direction key of an egress flow translated to node_ip:port. */
static __always_inline void nat_reply_key(struct flow_key* k, const struct flow_tuple* t,
                                          __be16 port) {
  if (t->proto == IPPROTO_ICMP)
    flow_key_of(k, t->daddr, nat_config.node_ip4, 0, port, t->proto, NAT_DIR_INGRESS);
  else
    flow_key_of(k, t->daddr, nat_config.node_ip4, t->dport, port, t->proto, NAT_DIR_INGRESS);
}

/* Claims a node port for the flow `t` (a pod's first packet toward the outside) and records both
 * directions. Returns the egress entry, or NULL with *reason: PETREL_DROP_NAT_NO_PORT when no
 * port is free for this destination, PETREL_DROP_NAT_MAP_FULL when the map refused an entry
 * (full, with nothing the LRU could evict). A port whose flow has gone idle past its timeout is
 * taken over, and that flow's egress entry removed. */
static __always_inline struct nat_entry* nat_allocate(const struct flow_tuple* t, __u64 now,
                                                      __u32* reason) {
  *reason = PETREL_DROP_NAT_NO_PORT;
  __u32 range = (__u32)nat_config.port_max - nat_config.port_min + 1;
  if (nat_config.port_max < nat_config.port_min) return 0;
  __u32 start = bpf_get_prandom_u32() % range;
  struct nat_entry reply = {.to_addr = t->saddr, .to_port = t->sport, .last_seen_ns = now};
  struct flow_key rkey;
  __be16 port = 0;
  for (int i = 0; i < NAT_PORT_TRIES; i++) {
    __be16 candidate = bpf_htons((__u16)(nat_config.port_min + (start + i) % range));
    nat_reply_key(&rkey, t, candidate);
    long err = bpf_map_update_elem(&petrel_nat, &rkey, &reply, BPF_NOEXIST);
    if (err == 0) {
      port = candidate;
      break;
    }
    if (err != -EEXIST) {
      *reason = PETREL_DROP_NAT_MAP_FULL;
      return 0;
    }
    struct nat_entry* held = bpf_map_lookup_elem(&petrel_nat, &rkey);
    if (held && nat_entry_stale(held, t->proto, now)) {
      struct flow_key old;
      if (t->proto == IPPROTO_ICMP)
        flow_key_of(&old, held->to_addr, t->daddr, held->to_port, 0, t->proto, NAT_DIR_EGRESS);
      else
        flow_key_of(&old, held->to_addr, t->daddr, held->to_port, t->dport, t->proto,
                    NAT_DIR_EGRESS);
      bpf_map_delete_elem(&petrel_nat, &old);
      if (bpf_map_update_elem(&petrel_nat, &rkey, &reply, BPF_ANY) == 0) {
        port = candidate;
        break;
      }
      *reason = PETREL_DROP_NAT_MAP_FULL; /* not even the place of an entry it replaces */
      return 0;
    }
    if (i + 1 >= (int)range) break; /* every port of a small range probed */
  }
  if (!port) return 0;
  struct flow_key ekey;
  flow_key_of(&ekey, t->saddr, t->daddr, t->sport, t->dport, t->proto, NAT_DIR_EGRESS);
  struct nat_entry forward = {.to_addr = nat_config.node_ip4, .to_port = port, .last_seen_ns = now};
  long err = bpf_map_update_elem(&petrel_nat, &ekey, &forward, BPF_NOEXIST);
  if (err != 0) {
    /* Another CPU translated the same new flow first (keep its port), or the map is full:
     * either way ours goes back. */
    bpf_map_delete_elem(&petrel_nat, &rkey);
    if (err != -EEXIST) {
      *reason = PETREL_DROP_NAT_MAP_FULL;
      return 0;
    }
  }
  return bpf_map_lookup_elem(&petrel_nat, &ekey);
}

/* Returns the egress entry of an established translated flow, or NULL when the flow has none
 * (or lost its port to another flow after going idle, in which case the stale entry goes). */
static __always_inline struct nat_entry* nat_lookup_egress(const struct flow_tuple* t, __u64 now) {
  struct flow_key key;
  flow_key_of(&key, t->saddr, t->daddr, t->sport, t->dport, t->proto, NAT_DIR_EGRESS);
  struct nat_entry* e = bpf_map_lookup_elem(&petrel_nat, &key);
  if (!e || (e->flags & NAT_F_PASSTHROUGH)) return e;
  struct flow_key rkey;
  nat_reply_key(&rkey, t, e->to_port);
  struct nat_entry* reply = bpf_map_lookup_elem(&petrel_nat, &rkey);
  if (reply && reply->to_addr == t->saddr && reply->to_port == t->sport) {
    nat_entry_touch(reply, t, now);
    return e;
  }
  if (!reply) {
    /* The reply entry was evicted: claim the same port again if it is still free. */
    struct nat_entry again = {.to_addr = t->saddr, .to_port = t->sport, .last_seen_ns = now};
    if (bpf_map_update_elem(&petrel_nat, &rkey, &again, BPF_NOEXIST) == 0) return e;
  }
  bpf_map_delete_elem(&petrel_nat, &key);
  return 0;
}
