/* IPv4 helpers: header validation, the header checksum of an option-less header, filling in
 * the header of a packet the datapath sends itself, folding checksum sums, and TTL decrement
 * with an incremental checksum update. */
#pragma once

#include <linux/ip.h>

#include "compiler.h"

/* Decrements TTL and patches the header checksum (RFC 1624), as a router does. */
static __always_inline void ipv4_decrement_ttl(struct iphdr* iph) {
  __u32 check = (__u32)iph->check;
  check += (__u32)bpf_htons(0x0100);
  iph->check = (__sum16)(check + (check >= 0xFFFF));
  iph->ttl--;
}

/* A 32-bit one's complement sum folded to 16 bits (not complemented). */
static __always_inline __u32 csum_fold16(__u32 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  return (sum & 0xffff) + (sum >> 16);
}

/* The one's complement sum of an option-less header's ten 16-bit words, folded. */
static __always_inline __u32 ipv4_header_sum(const struct iphdr* iph) {
  const __u16* w = (const __u16*)iph;
  __u32 sum = 0;
#pragma unroll
  for (int i = 0; i < (int)(sizeof(*iph) / 2); i++) sum += w[i];
  return csum_fold16(sum);
}

/* The checksum to write into an option-less header whose check field is 0. */
static __always_inline __sum16 ipv4_header_csum(const struct iphdr* iph) {
  return (__sum16)~ipv4_header_sum(iph);
}

/* An option-less header of a packet the datapath sends itself: TTL 64, checksum filled in.
 * `frag_off` in network order (bpf_htons(0x4000): don't fragment). */
static __always_inline void ipv4_header_fill(struct iphdr* ip, __be32 saddr, __be32 daddr,
                                             __u8 protocol, __u16 tot_len, __u8 tos,
                                             __be16 frag_off) {
  __builtin_memset(ip, 0, sizeof(*ip));
  ip->version = 4;
  ip->ihl = 5;
  ip->tos = tos;
  ip->tot_len = bpf_htons(tot_len);
  ip->frag_off = frag_off;
  ip->ttl = 64;
  ip->protocol = protocol;
  ip->saddr = saddr;
  ip->daddr = daddr;
  ip->check = ipv4_header_csum(ip);
}

/* Whether an option-less header's checksum is right, as the stack verifies it. */
static __always_inline int ipv4_header_csum_ok(const struct iphdr* iph) {
  return ipv4_header_sum(iph) == 0xffff;
}

/* Valid when the fixed header fits, version is 4 and IHL is sane. */
static __always_inline int ipv4_header_valid(const struct iphdr* iph, const void* data_end) {
  if ((const void*)(iph + 1) > data_end) return 0;
  if (iph->version != 4 || iph->ihl < 5) return 0;
  if ((const void*)iph + iph->ihl * 4 > data_end) return 0;
  return 1;
}
