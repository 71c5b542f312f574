/* Map definitions used by the programs. Layouts come from bpf/shared/maps.h; every map is pinned
 * by name under the agent's bpffs root, so an agent restart reuses it. */
#pragma once

#include "compiler.h"
#include "maps.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, PETREL_MAX_ENDPOINTS);
  __type(key, struct endpoint_key);
  __type(value, struct endpoint_info);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_endpoints SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PETREL_METRICS_ENTRIES);
  __type(key, __u32);
  __type(value, struct metric_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_metrics SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, PETREL_MAX_TUNNEL_PREFIXES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct tunnel_key);
  __type(value, struct tunnel_info);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_tunnel SEC(".maps");
