/* Delivery into a local pod: a router hop (TTL, MACs) and bpf_redirect_peer straight into the
 * pod's namespace, skipping the host-side veth's backlog. Shared by the lxc (pod to pod) and
 * overlay (tunnel to pod) programs. */
#pragma once

#include <linux/if_ether.h>
#include <linux/ip.h>

#include "ipv4.h"
#include "metrics.h"

/* Returns the tc action and sets *reason. TTL about to expire goes to the stack, which sends
 * ICMP time exceeded. */
static __always_inline int deliver_local_ipv4(struct ethhdr* eth, struct iphdr* iph,
                                              const struct endpoint_info* dst, __u32* reason) {
  if (iph->ttl <= 1) {
    *reason = PETREL_TO_STACK;
    return TC_ACT_OK;
  }
  ipv4_decrement_ttl(iph);
  __builtin_memcpy(eth->h_dest, dst->pod_mac, ETH_ALEN);
  __builtin_memcpy(eth->h_source, dst->host_mac, ETH_ALEN);
  int ret = bpf_redirect_peer(dst->ifindex, 0);
  *reason = ret == TC_ACT_REDIRECT ? PETREL_FORWARDED : PETREL_DROP_REDIRECT_FAILED;
  return ret;
}
