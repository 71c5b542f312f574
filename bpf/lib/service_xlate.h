/* Packet-level Service translation, for what the socket layer does not see: connections from
 * outside the node to a NodePort, externalIP or LoadBalancer address. The first packet picks a
 * backend (by the frontend's Maglev table, else as the socket layer would) and records the
 * connection in the CT map; every packet is then translated to that backend. A backend on this
 * node gets the packet straight into its pod with the client's address kept; a backend on another
 * node gets it with the node's address and a port of its own as the source (source NAT through the
 * masquerade table), so the answer comes back here to be translated back. Replies leave with the
 * frontend's address as source, forwarded by the FIB (the stack would drop a packet from its own
 * address as a martian). What no backend can take is rejected (bpf/lib/service_reject.h). */
#pragma once

#include "conntrack.h"
#include "deliver.h"
#include "endpoints.h"
#include "fib.h"
#include "lb.h"
#include "metrics.h"
#include "nat.h"
#include "service_reject.h"
#include "service_reply.h"

struct maglev_inner {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 16381); /* the template; the agent's tables may be of another prime size */
  __uint(map_flags, BPF_F_INNER_MAP);
  __type(key, __u32);
  __type(value, __u32);
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, PETREL_MAX_LB_MAGLEV);
  __type(key, struct lb_service_key);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __array(values, struct maglev_inner);
} petrel_lb_maglev SEC(".maps");

/* The size of every Maglev table, written by the agent through the .bss. */
__u32 maglev_table_size = 0;

/* A connection's hash: fixed, so every node maps a flow to the same table entry. */
static __always_inline __u32 flow_hash(const struct flow_tuple* t) {
  __u64 h = ((__u64)t->saddr << 32) ^ t->daddr;
  h ^= ((__u64)t->sport << 48) ^ ((__u64)t->dport << 32) ^ t->proto;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return (__u32)h;
}

/* The backend the frontend's Maglev table names for this connection into *out; -1 without a
 * table. */
static __always_inline int maglev_backend(const struct flow_tuple* t, struct lb_backend* out) {
  if (!maglev_table_size) return -1;
  struct lb_service_key key;
  __builtin_memset(&key, 0, sizeof(key));
  key.address = t->daddr;
  key.port = t->dport;
  key.proto = t->proto;
  void* table = bpf_map_lookup_elem(&petrel_lb_maglev, &key);
  if (!table) return -1;
  __u32 index = flow_hash(t) % maglev_table_size;
  __u32* backend_id = bpf_map_lookup_elem(table, &index);
  if (!backend_id) return -1;
  struct lb_backend* b = bpf_map_lookup_elem(&petrel_lb_backends, backend_id);
  if (!b) return -1;
  *out = *b;
  return 0;
}

/* Where a connection to a frontend goes: its backend, and whether it is reached through the
 * node's address (a backend on another node). */
struct service_target {
  __be32 addr;
  __be16 port;
  __u8 snat;
  __u8 refreshed;      /* the connection's last_seen was refreshed by this packet */
  struct ct_entry* ct; /* its entry (NULL if it could not be stored) */
};

/* What service_target_of found when it found no target. */
#define SERVICE_TARGET_NONE -1 /* nothing can take it: a connection answers with a reject */
/* none here now (policy Local elsewhere, an update in flight, the CT map full): drop */
#define SERVICE_TARGET_RETRY -2

/* The target of a packet of `t` (TCP or UDP) to the frontend `svc`: the connection's, or for its
 * first packet a new choice recorded in the CT map in both directions. Returns 0, or
 * SERVICE_TARGET_NONE for a TCP segment that is not a connection's start and of no connection
 * known (its backend was removed, or it was never seen) and for a frontend without backends, or
 * SERVICE_TARGET_RETRY (with *reason) when a client's retry may find one: the Service's
 * endpoints are on other nodes under traffic policy Local, a slot was missing mid-update, or
 * the CT map refused the connection's entries. */
static __always_inline int service_target_of(const struct flow_tuple* t,
                                             const struct lb_service_value* svc, __u64 now,
                                             struct service_target* out, __u32* reason) {
  struct flow_key key;
  flow_key_of(&key, t->saddr, t->daddr, t->sport, t->dport, t->proto, CT_DIR_SERVICE);
  struct ct_entry* ct = bpf_map_lookup_elem(&petrel_ct, &key);
  if (ct) {
    out->refreshed = ct_touch_at(ct, t, 0, now);
    out->addr = ct->addr;
    out->port = ct->port;
    out->snat = ct->flags & CT_F_SNAT;
    out->ct = ct;
    return 0;
  }
  if (t->proto == IPPROTO_TCP && (t->tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK)) != FLOW_TCP_SYN)
    return SERVICE_TARGET_NONE;
  if (svc->count == 0) {
    if (!(svc->flags & LB_SVC_F_REMOTE_ONLY)) return SERVICE_TARGET_NONE;
    *reason = PETREL_DROP_NO_LOCAL_BACKEND;
    return SERVICE_TARGET_RETRY;
  }
  /* Maglev, so that every node picks the same backend for this connection; affinity first. */
  struct lb_backend b;
  if (((svc->flags & LB_SVC_F_AFFINITY) || maglev_backend(t, &b) < 0) &&
      lb_select_backend(svc, t->daddr, t->dport, t->proto, t->saddr, METRIC_DIR_INGRESS, &b) < 0) {
    *reason = PETREL_DROP_NO_BACKEND_YET;
    return SERVICE_TARGET_RETRY;
  }
  out->addr = b.address;
  out->port = b.port;
  out->snat = endpoint_lookup_ip4(b.address) ? 0 : CT_F_SNAT;
  struct ct_entry forward = {.addr = out->addr,
                             .port = out->port,
                             .service_id = svc->service_id,
                             .flags = out->snat,
                             .last_seen_ns = now};
  struct ct_entry reply = {.addr = t->daddr,
                           .port = t->dport,
                           .service_id = svc->service_id,
                           .flags = out->snat,
                           .last_seen_ns = now};
  struct flow_key rkey;
  flow_key_of(&rkey, out->addr, t->saddr, out->port, t->sport, t->proto, CT_DIR_REPLY);
  /* Every field of *out set on every path from here: the verifier rejects reading a register
   * the compiler left undefined on the paths that return early. */
  out->refreshed = 1;
  out->ct = 0;
  /* An entry the map refuses (full, nothing the LRU could evict) drops the packet: without both
   * entries the backend's answers could not be translated back. */
  if (bpf_map_update_elem(&petrel_ct, &rkey, &reply, BPF_ANY) != 0) {
    *reason = PETREL_DROP_CT_MAP_FULL;
    return SERVICE_TARGET_RETRY;
  }
  if (bpf_map_update_elem(&petrel_ct, &key, &forward, BPF_ANY) != 0) {
    bpf_map_delete_elem(&petrel_ct, &rkey);
    *reason = PETREL_DROP_CT_MAP_FULL;
    return SERVICE_TARGET_RETRY;
  }
  out->ct = bpf_map_lookup_elem(&petrel_ct, &key);
  return 0;
}

/* A packet no backend can take. At the node's own address (a NodePort) the stack answers it: it
 * resets or refuses what no socket owns, and a segment of the node's own connection whose port
 * happens to be a NodePort still reaches its socket. Elsewhere (an externalIP or LoadBalancer
 * address) the stack would forward it on, so the datapath rejects it itself. */
static __always_inline int service_no_target(struct __sk_buff* skb, const struct flow_tuple* t,
                                             const struct lb_service_value* svc, __u32* reason) {
  if (svc->kind == LB_KIND_NODE_PORT || t->daddr == nat_config.node_ip4) {
    *reason = PETREL_TO_STACK;
    return TC_ACT_OK;
  }
  return service_reject(skb, t->proto, reason);
}

/* Translates a packet of `t` to the frontend `svc` and forwards it. `t` must be TCP or UDP.
 * Returns the tc action and sets *reason. */
static __always_inline int service_forward(struct __sk_buff* skb, struct flow_tuple* t,
                                           const struct lb_service_value* svc, __u32* reason) {
  *reason = PETREL_TO_STACK;
  __u64 now = bpf_ktime_get_ns();
  struct service_target target;
  int found = service_target_of(t, svc, now, &target, reason);
  if (found == SERVICE_TARGET_RETRY) return TC_ACT_SHOT;
  if (found < 0) return service_no_target(skb, t, svc, reason);
  __be32 backend = target.addr;
  __be16 backend_port = target.port;
  __u8 snat = target.snat;
  struct endpoint_info* dst = 0;
  if (!snat) {
    dst = endpoint_lookup_ip4(backend);
    if (!dst) return service_no_target(skb, t, svc, reason); /* the pod is gone */
  }
  *reason = PETREL_DROP_INVALID;
  if (flow_rewrite(skb, t, 0, backend, backend_port) < 0) return TC_ACT_SHOT;
  t->daddr = backend;
  t->dport = backend_port;
  if (snat) {
    struct nat_entry* e = nat_lookup_egress(t, now);
    if (!e) e = nat_allocate(t, now, reason);
    if (!e) return TC_ACT_SHOT;
    nat_entry_touch(e, t, now);
    __be32 to_addr = e->to_addr;
    __be16 to_port = e->to_port;
    if (flow_rewrite(skb, t, 1, to_addr, to_port) < 0) return TC_ACT_SHOT;
    int action = redirect_by_fib(skb, reason);
    if (*reason == PETREL_FORWARDED) *reason = PETREL_LB_FORWARDED;
    return action;
  }
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* iph = data + sizeof(*eth);
  if ((void*)(eth + 1) > data_end || !ipv4_header_valid(iph, data_end) || !dst) return TC_ACT_SHOT;
  int action = deliver_local_ipv4(eth, iph, dst, reason);
  if (*reason == PETREL_FORWARDED) *reason = PETREL_LB_FORWARDED;
  return action;
}
