/* Lookups in the local endpoint map. */
#pragma once

#include "map_defs.h"

static __always_inline struct endpoint_info* endpoint_lookup_ip4(__be32 ip4) {
  struct endpoint_key key;
  __builtin_memset(&key, 0, sizeof(key));
  key.ip4 = ip4;
  key.family = PETREL_AF_INET;
  return bpf_map_lookup_elem(&petrel_endpoints, &key);
}
