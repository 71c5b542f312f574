/* Map keys and values shared by BPF C and C++: fixed-width types, explicit padding, every key
 * zeroed before it is filled (padding is hashed). A test checks these layouts against the BTF of
 * the built objects. Keys are family-aware so IPv6 is an addition, not a redesign. */
#pragma once

#include <linux/types.h>

#define PETREL_AF_INET 4
#define PETREL_AF_INET6 6

#define PETREL_MAX_ENDPOINTS 65536

/* Pin names (under the agent's bpffs root). */
#define PETREL_MAP_ENDPOINTS "petrel_endpoints"
#define PETREL_MAP_METRICS "petrel_metrics"
#define PETREL_MAP_TUNNEL "petrel_tunnel"

#define PETREL_MAX_TUNNEL_PREFIXES 16384

/* petrel_endpoints: pod IP -> local endpoint. */
struct endpoint_key {
  union {
    __be32 ip4;
    __u8 ip6[16];
  };
  __u8 family; /* PETREL_AF_INET or PETREL_AF_INET6 */
  __u8 pad[3];
};

#define ENDPOINT_F_HOST 0x1 /* reserved: the node itself */

struct endpoint_info {
  __u32 ifindex;     /* host-side veth */
  __u32 endpoint_id; /* agent-assigned, stable for the endpoint's life */
  __u32 identity;    /* security identity (0 until policy lands) */
  __u32 flags;       /* ENDPOINT_F_* */
  __u8 pod_mac[6];   /* MAC of the pod's interface */
  __u8 host_mac[6];  /* MAC of the host-side veth (the pod's gateway MAC) */
};

/* petrel_metrics: per-CPU array indexed by reason * METRIC_DIR_MAX + direction. */
enum metric_dir {
  METRIC_DIR_EGRESS = 0,  /* leaving a pod */
  METRIC_DIR_INGRESS = 1, /* entering a pod */
  METRIC_DIR_MAX = 2,
};

struct metric_value {
  __u64 packets;
  __u64 bytes;
};

#define PETREL_METRICS_ENTRIES (256 * METRIC_DIR_MAX)

/* petrel_tunnel: LPM trie, remote pod CIDR -> the node that holds it. The match covers family
 * and pad too, so prefixlen = 32 + the CIDR's prefix length. */
struct tunnel_key {
  __u32 prefixlen;
  __u8 family; /* PETREL_AF_INET or PETREL_AF_INET6 */
  __u8 pad[3];
  union {
    __be32 ip4;
    __u8 ip6[16];
  };
};

#define TUNNEL_KEY_PREFIX_BITS 32 /* family + pad, matched exactly */

struct tunnel_info {
  union {
    __be32 ip4; /* the remote node's underlay address */
    __u8 ip6[16];
  };
  __u8 family;
  __u8 pad[3];
};

/* Security identities (the VNI of tunnelled packets carries the source's). */
#define PETREL_IDENTITY_UNKNOWN 0
#define PETREL_IDENTITY_HOST 1
