/* Lookups in the tunnel map: which node holds the pod CIDR an address belongs to; and the
 * overlay device's address of a node (its VTEP MAC), derived from the node's underlay IPv4
 * address. */
#pragma once

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include "map_defs.h"

/* VXLAN as the overlay device sends it: outer IPv4 and UDP (no checksum), the VXLAN header with
 * the group policy extension (GBP): the I flag, the G flag with the source's identity as the group
 * policy id (classic device, XDP NodePort path), and the VNI. */
struct vxlan_encap {
  struct ethhdr eth;
  struct iphdr ip;
  struct udphdr udp;
  __be32 vx_flags; /* the G and I flags, the GBP flags, the group policy id */
  __be32 vx_vni;   /* VNI << 8 */
} __attribute__((packed));

#define VXLAN_ENCAP_LEN (sizeof(struct vxlan_encap) - sizeof(struct ethhdr)) /* 36 */
#define VXLAN_FLAG_I 0x08000000 /* in vx_flags, host order */
#define VXLAN_FLAG_G 0x80000000

/* The VXLAN tunnel options of a collect_md device (struct vxlan_metadata): the GBP word. */
struct vxlan_gbp_opt {
  __u32 gbp;
};

static __always_inline struct tunnel_info* tunnel_lookup_ip4(__be32 ip4) {
  struct tunnel_key key;
  __builtin_memset(&key, 0, sizeof(key));
  key.prefixlen = TUNNEL_KEY_PREFIX_BITS + 32;
  key.family = PETREL_AF_INET;
  key.ip4 = ip4;
  return bpf_map_lookup_elem(&petrel_tunnel, &key);
}

/* The MAC address of a node's overlay device: 02:50 (locally administered, 'P') followed by the
 * node's IPv4 address in network order. The agent gives each node's device this address and
 * one forwarding entry per remote node (this MAC -> that node's address), so the device finds
 * the remote end by the inner destination MAC. Keep in step with vtepMac() in
 * agent/datapath/overlay.cc. */
static __always_inline void tunnel_vtep_mac(__u8 mac[ETH_ALEN], __be32 node_ip4) {
  mac[0] = 0x02;
  mac[1] = 0x50;
  __builtin_memcpy(&mac[2], &node_ip4, 4);
}

/* Whether `mac` is the overlay device's address of the node with `node_ip4`. */
static __always_inline int tunnel_is_vtep_mac(const __u8 mac[ETH_ALEN], __be32 node_ip4) {
  __be32 ip4;
  __builtin_memcpy(&ip4, &mac[2], 4);
  return mac[0] == 0x02 && mac[1] == 0x50 && ip4 == node_ip4;
}
