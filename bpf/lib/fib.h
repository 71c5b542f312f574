/* Forwarding by the kernel's FIB from a tc program: for packets whose rewritten source is this
 * node's own address (Service replies, SNATed Service traffic), which the stack would drop as
 * martians if they were handed to it. Looks the destination up, fills the MACs when the
 * neighbour is known (else lets bpf_redirect_neigh resolve it) and redirects to the device. The
 * lookup checks the packet against the egress device's MTU the way forwarding does: a GSO packet
 * by the size of its segments. */
#pragma once

#include <linux/if_ether.h>
#include <linux/ip.h>

#include "compiler.h"
#include "reasons.h"

#define PETREL_AF_INET_KERNEL 2

/* Returns the tc action; *reason is FORWARDED or a drop. */
static __always_inline int redirect_by_fib(struct __sk_buff* skb, __u32* reason) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* iph = data + sizeof(*eth);
  *reason = PETREL_DROP_INVALID;
  if ((void*)(iph + 1) > data_end) return TC_ACT_SHOT;
  struct bpf_fib_lookup p;
  __builtin_memset(&p, 0, sizeof(p));
  p.family = PETREL_AF_INET_KERNEL;
  p.tos = iph->tos;
  p.l4_protocol = iph->protocol;
  /* No tot_len: with one the lookup compares that length with the route's MTU, which a GSO
   * packet's length (up to 64 KB) always exceeds; without, the kernel checks the skb itself. */
  p.ipv4_src = iph->saddr;
  p.ipv4_dst = iph->daddr;
  p.ifindex = skb->ifindex;
  int rc = bpf_fib_lookup(skb, &p, sizeof(p), 0);
  if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
    __builtin_memcpy(eth->h_dest, p.dmac, ETH_ALEN);
    __builtin_memcpy(eth->h_source, p.smac, ETH_ALEN);
    *reason = PETREL_FORWARDED;
    return bpf_redirect(p.ifindex, 0);
  }
  if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
    *reason = PETREL_FORWARDED;
    return bpf_redirect_neigh(p.ifindex, 0, 0, 0);
  }
  *reason = PETREL_DROP_NO_ROUTE;
  return TC_ACT_SHOT;
}
