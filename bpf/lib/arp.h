/* ARP responder for the pods' gateway: a pod's ARP request is answered with the MAC of its
 * host-side veth, so every pod-originated frame reaches the lxc program (proxy-ARP style). */
#pragma once

#include <linux/if_ether.h>

#include "compiler.h"

/* From linux/if_arp.h, which drags libc headers into BPF builds. */
#define PETREL_ARPHRD_ETHER 1
#define PETREL_ARPOP_REQUEST 1
#define PETREL_ARPOP_REPLY 2

struct arp_eth_ipv4 {
  __be16 htype;
  __be16 ptype;
  __u8 hlen;
  __u8 plen;
  __be16 op;
  __u8 sha[ETH_ALEN];
  __be32 sip;
  __u8 tha[ETH_ALEN];
  __be32 tip;
} __attribute__((packed));

/* Validates an Ethernet/IPv4 ARP request; returns it or NULL. */
static __always_inline struct arp_eth_ipv4* arp_request_parse(void* data, void* data_end) {
  struct arp_eth_ipv4* arp = data + sizeof(struct ethhdr);
  if ((void*)(arp + 1) > data_end) return 0;
  if (arp->htype != bpf_htons(PETREL_ARPHRD_ETHER) || arp->ptype != bpf_htons(ETH_P_IP) ||
      arp->hlen != ETH_ALEN || arp->plen != 4 || arp->op != bpf_htons(PETREL_ARPOP_REQUEST))
    return 0;
  return arp;
}

/* Turns the request in place into a reply from `mac` for the requested address. */
static __always_inline void arp_make_reply(struct ethhdr* eth, struct arp_eth_ipv4* arp,
                                           const __u8* mac) {
  __be32 target = arp->tip;
  __builtin_memcpy(eth->h_dest, arp->sha, ETH_ALEN);
  __builtin_memcpy(eth->h_source, mac, ETH_ALEN);
  arp->op = bpf_htons(PETREL_ARPOP_REPLY);
  __builtin_memcpy(arp->tha, arp->sha, ETH_ALEN);
  arp->tip = arp->sip;
  __builtin_memcpy(arp->sha, mac, ETH_ALEN);
  arp->sip = target;
}
