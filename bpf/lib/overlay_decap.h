/* The overlay's receive fast path, on the uplink's tc ingress: a VXLAN packet from another node
 * for one of this node's pods is decapsulated here and redirected straight into the pod. It skips
 * the VXLAN device's receive path: the UDP socket, the GRO cell queue and, on a collect_md device,
 * the tunnel metadata allocated and RCU-freed for every packet. The pod sees what the device path
 * gives it (the overlay ingress program): the source's identity in the skb mark, a router hop,
 * bpf_redirect_peer. The identity is read the same way whichever device this node has, so pod
 * traffic keeps flowing while the nodes of a cluster switch --vxlan-mode one by one.
 * Whatever the fast path does not take entirely is left to the device (and the stack before it),
 * unchanged: an outer IPv4 header with options, a wrong checksum or length, or of a fragment, a
 * UDP checksum or length to verify, ECN congestion marks, VXLAN flags beyond I and G, another
 * destination MAC than this node's device has, an inner packet that is not IPv4 to a local pod
 * or whose TTL expires, and UDP from another node's own address (the overlay ingress program
 * remembers those flows). A decapsulated GSO packet keeps the tunnel GSO type its sender gave
 * it (no helper clears it); a pod that forwards it has it segmented as the TCP it is. */
#pragma once

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include "deliver.h"
#include "endpoints.h"
#include "ipv4.h"
#include "nat.h"
#include "tunnel.h"

/* What precedes the inner IPv4 header, and what goes (after the outer MAC header). */
struct overlay_frame {
  struct vxlan_encap outer;
  struct ethhdr inner_eth;
  struct iphdr inner_ip;
} __attribute__((packed));

#define OVERLAY_DECAP_LEN (VXLAN_ENCAP_LEN + sizeof(struct ethhdr)) /* 50 */
#define OVERLAY_ECN_CE 3

/* The source's identity, or -1 to leave the packet to the device. A collect_md sender puts it in
 * the VNI (and, when not 0, in the GBP group policy id too); a classic one and the XDP NodePort
 * path send the overlay's VNI with the identity as the group policy id (none: identity 0). Each
 * device path reads its own senders' packets the same way. */
static __always_inline long overlay_identity(const struct overlay_frame* f) {
  const __u32 flags = bpf_ntohl(f->outer.vx_flags);
  const __u32 vni = bpf_ntohl(f->outer.vx_vni);
  if ((flags & ~(VXLAN_FLAG_G | 0xffff)) != VXLAN_FLAG_I || (vni & 0xff)) return -1;
  if (vni >> 8 != PETREL_OVERLAY_VNI) return vni >> 8;
  return flags & VXLAN_FLAG_G ? (flags & 0xffff) : 0;
}

/* For a packet to this node's overlay port: returns 1 when taken (*action, *reason set), 0 to
 * leave it to the VXLAN device. */
static __always_inline int overlay_decap_to_pod(struct __sk_buff* skb, int* action, __u32* reason) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct overlay_frame* f = data;
  if ((void*)(f + 1) > data_end) {
    if (skb->len < sizeof(*f) || bpf_skb_pull_data(skb, sizeof(*f)) < 0) return 0;
    data = (void*)(long)skb->data;
    data_end = (void*)(long)skb->data_end;
    f = data;
    if ((void*)(f + 1) > data_end) return 0;
  }
  const __u32 ip_len = skb->len - sizeof(struct ethhdr);
  const struct iphdr* outer_ip = data + sizeof(struct ethhdr); /* f->outer.ip, not as packed */
  if (f->outer.ip.ihl != 5 || (f->outer.ip.frag_off & bpf_htons(PETREL_IP_FRAGMENT)) ||
      f->outer.ip.tot_len != bpf_htons(ip_len) || !ipv4_header_csum_ok(outer_ip) ||
      f->outer.udp.len != bpf_htons(ip_len - sizeof(struct iphdr)) || f->outer.udp.check != 0 ||
      (f->outer.ip.tos & OVERLAY_ECN_CE) == OVERLAY_ECN_CE)
    return 0;
  const long identity = overlay_identity(f);
  if (identity < 0) return 0;
  if (!tunnel_is_vtep_mac(f->inner_eth.h_dest, nat_config.node_ip4) ||
      f->inner_eth.h_proto != bpf_htons(ETH_P_IP) || f->inner_ip.version != 4 ||
      f->inner_ip.ihl < 5 || f->inner_ip.ttl <= 1)
    return 0;
  const struct endpoint_info* dst = endpoint_lookup_ip4(f->inner_ip.daddr);
  if (!dst) return 0;
  if (f->inner_ip.protocol == IPPROTO_UDP && !tunnel_lookup_ip4(f->inner_ip.saddr)) return 0;
  /* Keep the segment size of a GSO packet (its inner TCP segments are unchanged). A receiving
   * device's "checksums verified" counts the outer UDP (zero counts too) as the first: one level
   * less is what holds for the inner packet, as the kernel's tunnel receive path leaves it. */
  if (bpf_skb_adjust_room(skb, -(__s32)OVERLAY_DECAP_LEN, BPF_ADJ_ROOM_MAC,
                          BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_NO_CSUM_RESET) < 0)
    return 0;
  bpf_csum_level(skb, BPF_CSUM_LEVEL_DEC); /* only acts on CHECKSUM_UNNECESSARY */
  skb->mark = (__u32)identity;
  data = (void*)(long)skb->data;
  data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* iph = data + sizeof(*eth);
  if ((void*)(eth + 1) > data_end || !ipv4_header_valid(iph, data_end)) {
    *reason = PETREL_DROP_INVALID;
    *action = TC_ACT_SHOT;
    return 1;
  }
  *action = deliver_local_ipv4(eth, iph, dst, reason);
  return 1;
}
