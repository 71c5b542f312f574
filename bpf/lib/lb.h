/* Service load balancing, shared by the socket-level and packet-level programs: the service,
 * backend and affinity maps, and backend selection (random among the master entry's slots, or
 * the client's previous backend under sessionAffinity ClientIP). */
#pragma once

#include "compiler.h"
#include "maps.h"
#include "metrics.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, PETREL_MAX_LB_SERVICE_ENTRIES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct lb_service_key);
  __type(value, struct lb_service_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_lb_services SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, PETREL_MAX_LB_BACKENDS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct lb_backend);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_lb_backends SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, PETREL_MAX_LB_AFFINITY);
  __type(key, struct lb_affinity_key);
  __type(value, struct lb_affinity_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_lb_affinity SEC(".maps");

static __always_inline struct lb_service_value* lb_lookup_service(__be32 address, __be16 port,
                                                                  __u8 proto) {
  struct lb_service_key key;
  __builtin_memset(&key, 0, sizeof(key));
  key.address = address;
  key.port = port;
  key.proto = proto;
  return bpf_map_lookup_elem(&petrel_lb_services, &key);
}

/* The backend in a random slot of the frontend into *out (address and port); -1 when the slot
 * is missing (an update in flight). */
static __always_inline int lb_random_backend(__be32 address, __be16 port, __u8 proto, __u16 count,
                                             __u32* backend_id, struct lb_backend* out) {
  struct lb_service_key key;
  __builtin_memset(&key, 0, sizeof(key));
  key.address = address;
  key.port = port;
  key.proto = proto;
  key.slot = (__u16)(bpf_get_prandom_u32() % count) + 1;
  struct lb_service_value* slot = bpf_map_lookup_elem(&petrel_lb_services, &key);
  if (!slot || !slot->backend_address) return -1;
  *backend_id = slot->backend_id;
  out->address = slot->backend_address;
  out->port = slot->backend_port;
  return 0;
}

/* Chooses a backend for a new connection from `client` to the frontend `svc` (its master
 * entry) into *out (address and port). Returns -1 when none can be chosen. A client's backend
 * the affinity map refuses to keep (full, nothing the LRU could evict) does not stop the
 * connection: it is counted as PETREL_LB_AFFINITY_MAP_FULL in `metric_dir`, and the client's
 * next connection may get another backend. */
static __always_inline int lb_select_backend(const struct lb_service_value* svc, __be32 address,
                                             __be16 port, __u8 proto, __u64 client,
                                             __u32 metric_dir, struct lb_backend* out) {
  __u32 backend_id = 0;
  if (!(svc->flags & LB_SVC_F_AFFINITY))
    return lb_random_backend(address, port, proto, svc->count, &backend_id, out);
  struct lb_affinity_key akey;
  __builtin_memset(&akey, 0, sizeof(akey));
  akey.client = client;
  akey.service_id = svc->service_id;
  __u64 now = bpf_ktime_get_ns();
  struct lb_affinity_value* a = bpf_map_lookup_elem(&petrel_lb_affinity, &akey);
  if (a && now - a->last_used_ns <= (__u64)svc->affinity_timeout * 1000000000ULL) {
    backend_id = a->backend_id;
    struct lb_backend* b = bpf_map_lookup_elem(&petrel_lb_backends, &backend_id);
    /* A terminating backend takes no new connections, not even from its affine clients, unless
     * the frontend has nothing else: then affinity holds among the terminating ones. */
    if (b && (!(b->flags & LB_BACKEND_F_TERMINATING) || (svc->flags & LB_SVC_F_TERMINATING_ONLY))) {
      a->last_used_ns = now;
      *out = *b;
      return 0;
    }
  }
  if (lb_random_backend(address, port, proto, svc->count, &backend_id, out) < 0) return -1;
  struct lb_affinity_value v = {.last_used_ns = now, .backend_id = backend_id};
  if (bpf_map_update_elem(&petrel_lb_affinity, &akey, &v, BPF_ANY) != 0)
    metrics_count(PETREL_LB_AFFINITY_MAP_FULL, metric_dir, 0);
  return 0;
}
