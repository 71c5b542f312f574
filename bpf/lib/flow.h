/* Flows in packets: the tuple of a TCP, UDP or ICMP echo packet (the echo identifier stands in
 * for the port), the flow tables' key built from one, and rewriting a packet's addresses and
 * ports with incremental checksum updates. Shared by masquerading, the Service load balancer and
 * reverse NAT. */
#pragma once

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "compiler.h"
#include "maps.h"

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif

/* The ICMP echo header, also the shape of an error's (linux/icmp.h drags libc headers into BPF
 * builds). */
struct icmp_echo_hdr {
  __u8 type;
  __u8 code;
  __sum16 checksum;
  __be16 id;
  __be16 sequence;
};
#define PETREL_ICMP_ECHOREPLY 0
#define PETREL_ICMP_ECHO 8
#define PETREL_ICMP_DEST_UNREACH 3
#define PETREL_ICMP_PORT_UNREACH 3 /* its code */
#define PETREL_ICMP_TIME_EXCEEDED 11

#define PETREL_IP_FRAGMENT 0x3FFF /* MF flag or a fragment offset */

/* A packet's flow: addresses and ports (ICMP echo: the identifier) as in the headers. */
struct flow_tuple {
  __be32 saddr;
  __be32 daddr;
  __be16 sport;
  __be16 dport;
  __u8 proto;
  __u8 tcp_flags; /* TCP only: FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10 */
  __u8 icmp_type;
  __u32 l4_off; /* from the start of the frame */
};

#define FLOW_TCP_FIN 0x01
#define FLOW_TCP_SYN 0x02
#define FLOW_TCP_RST 0x04
#define FLOW_TCP_ACK 0x10

/* Fills *k, the key of one entry of a flow in petrel_ct or petrel_nat (`dir`: enum ct_dir or
 * enum nat_dir), zeroed first: the padding is hashed. */
static __always_inline void flow_key_of(struct flow_key* k, __be32 saddr, __be32 daddr,
                                        __be16 sport, __be16 dport, __u8 proto, __u8 dir) {
  __builtin_memset(k, 0, sizeof(*k));
  k->saddr = saddr;
  k->daddr = daddr;
  k->sport = sport;
  k->dport = dport;
  k->proto = proto;
  k->dir = dir;
  k->family = PETREL_AF_INET;
}

/* Reads the tuple of an IPv4 packet (in the frame data..data_end) whose header is valid.
 * Returns 0, or -1 when the packet cannot be translated (a fragment, a protocol other than
 * TCP/UDP/ICMP, a short L4 header). Works for tc and XDP alike. */
static __always_inline int flow_tuple_parse(void* data, void* data_end, struct iphdr* iph,
                                            struct flow_tuple* t) {
  if (iph->frag_off & bpf_htons(PETREL_IP_FRAGMENT)) return -1;
  __builtin_memset(t, 0, sizeof(*t));
  t->saddr = iph->saddr;
  t->daddr = iph->daddr;
  t->proto = iph->protocol;
  t->l4_off = sizeof(struct ethhdr) + iph->ihl * 4;
  void* l4 = data + t->l4_off;
  switch (iph->protocol) {
    case IPPROTO_TCP: {
      struct tcphdr* th = l4;
      if ((void*)(th + 1) > data_end) return -1;
      t->sport = th->source;
      t->dport = th->dest;
      t->tcp_flags = ((__u8*)th)[13];
      return 0;
    }
    case IPPROTO_UDP: {
      struct udphdr* uh = l4;
      if ((void*)(uh + 1) > data_end) return -1;
      t->sport = uh->source;
      t->dport = uh->dest;
      return 0;
    }
    case IPPROTO_ICMP: {
      struct icmp_echo_hdr* ih = l4;
      if ((void*)(ih + 1) > data_end) return -1;
      t->icmp_type = ih->type;
      if (ih->type == PETREL_ICMP_ECHO)
        t->sport = ih->id;
      else if (ih->type == PETREL_ICMP_ECHOREPLY)
        t->dport = ih->id;
      else
        return -1;
      return 0;
    }
    default:
      return -1;
  }
}

static __always_inline int flow_tuple_read(struct __sk_buff* skb, struct iphdr* iph,
                                           struct flow_tuple* t) {
  return flow_tuple_parse((void*)(long)skb->data, (void*)(long)skb->data_end, iph, t);
}

/* Offsets of the rewritten fields. */
static __always_inline __u32 flow_csum_off(const struct flow_tuple* t) {
  if (t->proto == IPPROTO_TCP) return t->l4_off + offsetof(struct tcphdr, check);
  if (t->proto == IPPROTO_UDP) return t->l4_off + offsetof(struct udphdr, check);
  return t->l4_off + offsetof(struct icmp_echo_hdr, checksum);
}

/* Rewrites the source (egress) or destination (ingress) address and port of the packet, with
 * the IPv4 and L4 checksums patched incrementally (the helpers also handle checksum offload).
 * For ICMP echo the identifier is the port, and the ICMP checksum has no pseudo-header.
 * Returns 0 or a negative error. Packet pointers are invalid afterwards. */
static __always_inline int flow_rewrite(struct __sk_buff* skb, const struct flow_tuple* t,
                                        int source, __be32 to_addr, __be16 to_port) {
  __be32 from_addr = source ? t->saddr : t->daddr;
  __be16 from_port = source ? t->sport : t->dport;
  __u32 addr_off = sizeof(struct ethhdr) +
                   (source ? offsetof(struct iphdr, saddr) : offsetof(struct iphdr, daddr));
  __u32 port_off = t->proto == IPPROTO_ICMP ? t->l4_off + offsetof(struct icmp_echo_hdr, id)
                                            : t->l4_off + (source ? offsetof(struct tcphdr, source)
                                                                  : offsetof(struct tcphdr, dest));
  __u32 csum_off = flow_csum_off(t);
  __u64 mangled = t->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
  int err = 0;
  if (t->proto != IPPROTO_ICMP) {
    err = bpf_l4_csum_replace(skb, csum_off, from_addr, to_addr,
                              BPF_F_PSEUDO_HDR | sizeof(to_addr) | mangled);
    if (err) return err;
  }
  err = bpf_l4_csum_replace(skb, csum_off, from_port, to_port, sizeof(to_port) | mangled);
  if (err) return err;
  err = bpf_skb_store_bytes(skb, port_off, &to_port, sizeof(to_port), 0);
  if (err) return err;
  err = bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, check), from_addr,
                            to_addr, sizeof(to_addr));
  if (err) return err;
  return bpf_skb_store_bytes(skb, addr_off, &to_addr, sizeof(to_addr), 0);
}
