/* Lookups in the tunnel map: which node holds the pod CIDR an address belongs to. */
#pragma once

#include "map_defs.h"

static __always_inline struct tunnel_info* tunnel_lookup_ip4(__be32 ip4) {
  struct tunnel_key key;
  __builtin_memset(&key, 0, sizeof(key));
  key.prefixlen = TUNNEL_KEY_PREFIX_BITS + 32;
  key.family = PETREL_AF_INET;
  key.ip4 = ip4;
  return bpf_map_lookup_elem(&petrel_tunnel, &key);
}
