/* overlay: tc programs on the node's VXLAN device (one device for all peers; see
 * docs/decisions.md, "Multi-node"). Egress (pods' and the node's traffic for another node's pod
 * CIDR) looks the destination up in the tunnel map and addresses the inner frame to the remote
 * node's VTEP MAC. On a collect_md device (the default) the program sets the tunnel key itself:
 * the remote node, and the source identity as the VNI, which ingress turns back into the mark.
 * On a classic device (a fixed VNI) the device's forwarding entries map that MAC to the remote
 * node's address, and the source's security identity rides along as the VXLAN-GBP group policy
 * id (the device sends the skb mark there, and the receiving device makes it the mark). Ingress
 * (decapsulated traffic from other nodes that the uplink's fast path, bpf/lib/overlay_decap.h,
 * left to the device) delivers to local pods with bpf_redirect_peer (remembering UDP flows from
 * other nodes' own addresses, so the pods' answers are not masqueraded) and hands the rest to the
 * stack. */
#include <linux/if_ether.h>
#include <linux/ip.h>

#include "compiler.h"
#include "deliver.h"
#include "endpoints.h"
#include "ipv4.h"
#include "metrics.h"
#include "nat_map.h"
#include "tunnel.h"

/* Set by the agent before load: the device is collect_md (--vxlan-mode collect-md). */
const volatile __u8 collect_md = 0;

static __always_inline int count(struct __sk_buff* skb, __u32 reason, __u32 dir, int action) {
  metrics_count(reason, dir, skb->len);
  return PETREL_IS_DROP(reason) ? TC_ACT_SHOT : action;
}

SEC("tc")
int petrel_overlay_egress(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return count(skb, PETREL_DROP_INVALID, METRIC_DIR_EGRESS, 0);
  /* Only IPv4 is tunnelled. */
  if (eth->h_proto != bpf_htons(ETH_P_IP)) {
    return count(skb, PETREL_DROP_UNSUPPORTED_L3, METRIC_DIR_EGRESS, 0);
  }
  struct iphdr* iph = data + sizeof(*eth);
  if (!ipv4_header_valid(iph, data_end)) {
    return count(skb, PETREL_DROP_INVALID, METRIC_DIR_EGRESS, 0);
  }
  struct tunnel_info* remote = tunnel_lookup_ip4(iph->daddr);
  if (!remote) return count(skb, PETREL_DROP_NO_TUNNEL, METRIC_DIR_EGRESS, 0);
  tunnel_vtep_mac(eth->h_dest, remote->ip4);
  struct endpoint_info* src = endpoint_lookup_ip4(iph->saddr);
  __u32 identity = src ? src->identity : PETREL_IDENTITY_HOST;
  if (collect_md) {
    struct bpf_tunnel_key key = {
        .remote_ipv4 = bpf_ntohl(remote->ip4),
        .tunnel_id = identity & PETREL_VNI_MASK, /* VNIs are 24 bits */
        .tunnel_ttl = 64,
    };
    /* The device has the GBP flag (for the XDP NodePort path's packets) and sends the group
     * policy id from the tunnel options, from uninitialized memory when there are none: the
     * identity goes there too. */
    struct vxlan_gbp_opt gbp = {.gbp = identity & 0xffff};
    if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_ZERO_CSUM_TX) < 0 ||
        bpf_skb_set_tunnel_opt(skb, &gbp, sizeof(gbp)) < 0) {
      return count(skb, PETREL_DROP_TUNNEL_KEY, METRIC_DIR_EGRESS, 0);
    }
  } else {
    /* The device sends the frame to the node its forwarding entry for this MAC names, with the
     * source's identity as the VXLAN-GBP group policy id (taken from the mark). */
    skb->mark = identity & 0xffff; /* GBP ids are 16 bits */
  }
  return count(skb, PETREL_TO_TUNNEL, METRIC_DIR_EGRESS, TC_ACT_OK);
}

SEC("tc")
int petrel_overlay_ingress(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return count(skb, PETREL_DROP_INVALID, METRIC_DIR_INGRESS, 0);
  if (collect_md) {
    /* The sender's identity, as a classic GBP device would have left it in the mark. */
    struct bpf_tunnel_key key = {};
    if (bpf_skb_get_tunnel_key(skb, &key, sizeof(key), 0) == 0) skb->mark = key.tunnel_id;
  }
  if (eth->h_proto != bpf_htons(ETH_P_IP)) {
    return count(skb, PETREL_FROM_TUNNEL, METRIC_DIR_INGRESS, TC_ACT_OK);
  }
  struct iphdr* iph = data + sizeof(*eth);
  if (!ipv4_header_valid(iph, data_end)) {
    return count(skb, PETREL_DROP_INVALID, METRIC_DIR_INGRESS, 0);
  }
  struct endpoint_info* dst = endpoint_lookup_ip4(iph->daddr);
  if (!dst) return count(skb, PETREL_FROM_TUNNEL, METRIC_DIR_INGRESS, TC_ACT_OK);
  /* UDP from another node's address (not its pods), e.g. a Service connection it load-balanced
   * here: the pod's answers must go back unmasqueraded. */
  struct flow_tuple t;
  if (iph->protocol == IPPROTO_UDP && !tunnel_lookup_ip4(iph->saddr) &&
      flow_tuple_read(skb, iph, &t) == 0) {
    if (nat_remember_inbound_udp(&t) < 0) {
      return count(skb, PETREL_DROP_NAT_MAP_FULL, METRIC_DIR_INGRESS, 0);
    }
    data = (void*)(long)skb->data;
    data_end = (void*)(long)skb->data_end;
    eth = data;
    iph = data + sizeof(*eth);
    if ((void*)(eth + 1) > data_end || !ipv4_header_valid(iph, data_end)) {
      return count(skb, PETREL_DROP_INVALID, METRIC_DIR_INGRESS, 0);
    }
  }
  __u32 reason;
  int action = deliver_local_ipv4(eth, iph, dst, &reason);
  return count(skb, reason, METRIC_DIR_INGRESS, action);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
