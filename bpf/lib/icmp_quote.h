/* The quote an ICMP error carries: a "destination unreachable" (among them "fragmentation
 * needed", which path MTU discovery lives on) or "time exceeded" quotes the packet it is about
 * (its IPv4 header and the first 8 bytes of its TCP/UDP header). Where Petrel translated that
 * packet, the error has to be translated back before its receiver can match it to a socket:
 * icmp_quote_read() finds the quote, icmp_quote_rewrite() changes one end of the quoted packet
 * and one outer address, with the quoted IP header's, the ICMP and the outer IP checksums
 * patched, and icmp_quote_deliver() hands the result to a pod on this node. The quoted TCP/UDP
 * checksum is left alone, as receivers do not check it. */
#pragma once

#include <linux/if_ether.h>
#include <linux/ip.h>

#include "compiler.h"
#include "deliver.h"
#include "endpoints.h"
#include "flow.h"
#include "ipv4.h"

#define ICMP_ERROR_HDR_LEN 8 /* type, code, checksum, 4 bytes of the error's own */

struct icmp_quote {
  __u32 icmp_off;  /* the ICMP header in the packet */
  __u32 inner_off; /* the quoted IPv4 header */
  struct iphdr inner;
  __be16 ports[2]; /* the quoted packet's source and destination ports */
};

/* Reads the quote of an ICMP error in an IPv4 packet whose header `iph` is valid and not a
 * fragment. Returns 0 when it is an error about a TCP or UDP packet (without IP options), else
 * -1. */
static __always_inline int icmp_quote_read(struct __sk_buff* skb, const struct iphdr* iph,
                                           struct icmp_quote* q) {
  q->icmp_off = sizeof(struct ethhdr) + iph->ihl * 4;
  __u8 type;
  if (bpf_skb_load_bytes(skb, q->icmp_off, &type, 1) < 0) return -1;
  if (type != PETREL_ICMP_DEST_UNREACH && type != PETREL_ICMP_TIME_EXCEEDED) return -1;
  q->inner_off = q->icmp_off + ICMP_ERROR_HDR_LEN;
  if (bpf_skb_load_bytes(skb, q->inner_off, &q->inner, sizeof(q->inner)) < 0) return -1;
  if (q->inner.version != 4 || q->inner.ihl != 5) return -1;
  if (q->inner.protocol != IPPROTO_TCP && q->inner.protocol != IPPROTO_UDP) return -1;
  return bpf_skb_load_bytes(skb, q->inner_off + sizeof(q->inner), q->ports, sizeof(q->ports));
}

/* The flow of an answer to the quoted packet: its addresses and ports swapped. */
static __always_inline void icmp_quote_answer(const struct icmp_quote* q, struct flow_tuple* t) {
  __builtin_memset(t, 0, sizeof(*t));
  t->saddr = q->inner.daddr;
  t->daddr = q->inner.saddr;
  t->sport = q->ports[1];
  t->dport = q->ports[0];
  t->proto = q->inner.protocol;
}

#define ICMP_QUOTE_SOURCE 0
#define ICMP_QUOTE_DEST 1

/* The quoted packet's source (ICMP_QUOTE_SOURCE) or destination (ICMP_QUOTE_DEST) becomes
 * addr:port, and the outer header's address at `outer_field` (offsetof(struct iphdr, saddr) or
 * daddr) becomes `outer_addr`; `q` follows, so both ends can be rewritten one after the other.
 * Returns 0, or -1 when the packet could not be written (then it may be half rewritten: drop
 * it). */
static __always_inline int icmp_quote_rewrite(struct __sk_buff* skb, struct icmp_quote* q, int end,
                                              __be32 addr, __be16 port, __u32 outer_field,
                                              __be32 outer_addr) {
  const __be32 old_addr = end == ICMP_QUOTE_SOURCE ? q->inner.saddr : q->inner.daddr;
  const __be16 old_port = q->ports[end == ICMP_QUOTE_SOURCE ? 0 : 1];
  const __u32 addr_off = q->inner_off + (end == ICMP_QUOTE_SOURCE ? offsetof(struct iphdr, saddr)
                                                                  : offsetof(struct iphdr, daddr));
  const __u32 port_off = q->inner_off + sizeof(struct iphdr) + (end == ICMP_QUOTE_SOURCE ? 0 : 2);
  /* The quoted header's checksum after its address changes. */
  __u32 sum = (__u32)(__u16)~q->inner.check + (~(__u32)old_addr & 0xffff) +
              (~(__u32)old_addr >> 16) + ((__u32)addr & 0xffff) + ((__u32)addr >> 16);
  const __sum16 new_check = (__sum16)~csum_fold16(sum);
  /* The ICMP checksum covers the quote: patch it for every quoted field that changes. */
  const __u32 icmp_csum = q->icmp_off + 2;
  __be32 outer_old;
  if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr) + outer_field, &outer_old, 4) < 0 ||
      bpf_l4_csum_replace(skb, icmp_csum, old_addr, addr, sizeof(addr)) < 0 ||
      bpf_l4_csum_replace(skb, icmp_csum, q->inner.check, new_check, sizeof(new_check)) < 0 ||
      bpf_l4_csum_replace(skb, icmp_csum, old_port, port, sizeof(port)) < 0 ||
      bpf_skb_store_bytes(skb, addr_off, &addr, sizeof(addr), 0) < 0 ||
      bpf_skb_store_bytes(skb, q->inner_off + offsetof(struct iphdr, check), &new_check,
                          sizeof(new_check), 0) < 0 ||
      bpf_skb_store_bytes(skb, port_off, &port, sizeof(port), 0) < 0 ||
      bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, check), outer_old,
                          outer_addr, sizeof(outer_addr)) < 0 ||
      bpf_skb_store_bytes(skb, sizeof(struct ethhdr) + outer_field, &outer_addr, sizeof(outer_addr),
                          0) < 0) {
    return -1;
  }
  q->inner.check = new_check;
  if (end == ICMP_QUOTE_SOURCE) {
    q->inner.saddr = addr;
    q->ports[0] = port;
  } else {
    q->inner.daddr = addr;
    q->ports[1] = port;
  }
  return 0;
}

/* After icmp_quote_rewrite(): delivers the error into the local pod `dst`. Returns the tc action
 * with *reason set (PETREL_FORWARDED when delivered). */
static __always_inline int icmp_quote_deliver(struct __sk_buff* skb,
                                              const struct endpoint_info* dst, __u32* reason) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* iph = data + sizeof(*eth);
  *reason = PETREL_DROP_INVALID;
  if ((void*)(eth + 1) > data_end || !ipv4_header_valid(iph, data_end)) return TC_ACT_SHOT;
  return deliver_local_ipv4(eth, iph, dst, reason);
}
