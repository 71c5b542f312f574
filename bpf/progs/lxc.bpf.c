/* lxc: tc ingress of each pod's host-side veth, i.e. traffic leaving the pod. Answers ARP for
 * the gateway, checks the source address belongs to this endpoint, redirects pod-to-pod traffic
 * on this node straight into the destination pod with bpf_redirect_peer, sends traffic for
 * another node's pod CIDR to the overlay device (whose egress program addresses the frame to
 * the remote node), gives a Service backend's answers (and its ICMP errors about the
 * connection) to clients outside the node the frontend's address, and hands everything else to
 * the node's stack. Every exit is counted by
 * reason. */
#include <linux/if_ether.h>
#include <linux/ip.h>

#include "arp.h"
#include "compiler.h"
#include "deliver.h"
#include "endpoints.h"
#include "ipv4.h"
#include "metrics.h"
#include "service_icmp_error.h"
#include "service_reply.h"
#include "tunnel.h"

/* Set by the agent before load: the overlay device, 0 when tunnelling is off. */
const volatile __u32 tunnel_ifindex = 0;

/* Counts the verdict and turns it into a tc action. */
static __always_inline int finish(struct __sk_buff* skb, __u32 reason, int action) {
  metrics_count(reason, METRIC_DIR_EGRESS, skb->len);
  return PETREL_IS_DROP(reason) ? TC_ACT_SHOT : action;
}

static __always_inline int handle_arp(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct arp_eth_ipv4* arp = arp_request_parse(data, data_end);
  if (!arp) return finish(skb, PETREL_TO_STACK, TC_ACT_OK);
  /* Gratuitous ARP / duplicate address detection: not a question for the gateway. */
  if (arp->tip == arp->sip) return finish(skb, PETREL_TO_STACK, TC_ACT_OK);
  struct endpoint_info* src = endpoint_lookup_ip4(arp->sip);
  if (!src || src->ifindex != skb->ifindex) return finish(skb, PETREL_DROP_ARP_INVALID, 0);
  __u8 mac[ETH_ALEN];
  __builtin_memcpy(mac, src->host_mac, ETH_ALEN);
  arp_make_reply(eth, arp, mac);
  metrics_count(PETREL_ARP_REPLY, METRIC_DIR_EGRESS, skb->len);
  return bpf_redirect(skb->ifindex, 0);
}

static __always_inline int handle_ipv4(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* iph = data + sizeof(*eth);
  if (!ipv4_header_valid(iph, data_end)) return finish(skb, PETREL_DROP_INVALID, 0);

  struct endpoint_info* src = endpoint_lookup_ip4(iph->saddr);
  if (!src || src->ifindex != skb->ifindex) return finish(skb, PETREL_DROP_SPOOFED_SOURCE, 0);

  struct endpoint_info* dst = endpoint_lookup_ip4(iph->daddr);
  if (!dst) {
    if (tunnel_ifindex && tunnel_lookup_ip4(iph->daddr)) {
      return finish(skb, PETREL_TO_TUNNEL, bpf_redirect(tunnel_ifindex, 0));
    }
    /* This pod answering a Service connection that came from outside the node, or sending an
     * ICMP error about a packet of one. */
    struct flow_tuple t;
    if (iph->protocol == IPPROTO_ICMP) {
      if (!(iph->frag_off & bpf_htons(PETREL_IP_FRAGMENT))) {
        __u32 reason;
        int action = service_icmp_error_out(skb, iph, &reason);
        if (action >= 0) return finish(skb, reason, action);
      }
    } else if ((iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP) &&
               flow_tuple_read(skb, iph, &t) == 0) {
      __u32 reason;
      int action = service_reply(skb, &t, &reason);
      if (action >= 0) return finish(skb, reason, action);
    }
    return finish(skb, PETREL_TO_STACK, TC_ACT_OK);
  }
  __u32 reason;
  int action = deliver_local_ipv4(eth, iph, dst, &reason);
  if (reason == PETREL_FORWARDED) metrics_count(PETREL_FORWARDED, METRIC_DIR_INGRESS, skb->len);
  return finish(skb, reason, action);
}

SEC("tc")
int petrel_lxc_from_container(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return finish(skb, PETREL_DROP_INVALID, 0);

  switch (eth->h_proto) {
    case bpf_htons(ETH_P_IP):
      return handle_ipv4(skb);
    case bpf_htons(ETH_P_ARP):
      return handle_arp(skb);
    case bpf_htons(ETH_P_IPV6):
      /* IPv6 is not routed by Petrel yet: the node stack decides (no addresses, so no harm). */
      return finish(skb, PETREL_TO_STACK, TC_ACT_OK);
    default:
      return finish(skb, PETREL_DROP_UNSUPPORTED_L3, 0);
  }
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
