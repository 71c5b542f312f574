/* IPv4 helpers: header validation and TTL decrement with an incremental checksum update. */
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

/* Valid when the fixed header fits, version is 4 and IHL is sane. */
static __always_inline int ipv4_header_valid(const struct iphdr* iph, const void* data_end) {
  if ((const void*)(iph + 1) > data_end) return 0;
  if (iph->version != 4 || iph->ihl < 5) return 0;
  if ((const void*)iph + iph->ihl * 4 > data_end) return 0;
  return 1;
}
