/* Reverse NAT of ICMP errors: a "destination unreachable" (among them "fragmentation needed",
 * which path MTU discovery lives on) or "time exceeded" about a packet a pod sent masqueraded
 * comes back to the node's address and port. The error quotes that packet (its IP header and
 * the first 8 bytes of its TCP/UDP header), so the pod's flow is found from the quote; the
 * outer destination and the quoted source are translated back (IP and ICMP checksums patched)
 * and the error is delivered into the pod, whose stack then lowers its path MTU or fails the
 * connection as it would without NAT. */
#pragma once

#include <linux/if_ether.h>
#include <linux/ip.h>

#include "compiler.h"
#include "deliver.h"
#include "endpoints.h"
#include "flow.h"
#include "nat.h"

#define PETREL_ICMP_DEST_UNREACH 3
#define PETREL_ICMP_TIME_EXCEEDED 11
#define ICMP_ERROR_HDR_LEN 8 /* type, code, checksum, 4 bytes of the error's own */

/* Handles an ICMP message to the node's address whose IPv4 header `iph` is valid. Returns 0
 * when it is not an error about a masqueraded flow (nothing changed), else 1 with the tc action
 * in *action and *reason set. */
static __always_inline int icmp_error_reverse(struct __sk_buff* skb, struct iphdr* iph, int* action,
                                              __u32* reason) {
  const __u32 icmp_off = sizeof(struct ethhdr) + iph->ihl * 4;
  __u8 type;
  if (bpf_skb_load_bytes(skb, icmp_off, &type, 1) < 0) return 0;
  if (type != PETREL_ICMP_DEST_UNREACH && type != PETREL_ICMP_TIME_EXCEEDED) return 0;
  const __u32 inner_off = icmp_off + ICMP_ERROR_HDR_LEN;
  struct iphdr inner;
  __be16 ports[2]; /* the quoted packet's source and destination ports */
  if (bpf_skb_load_bytes(skb, inner_off, &inner, sizeof(inner)) < 0) return 0;
  if (inner.version != 4 || inner.ihl != 5) return 0;
  if (inner.protocol != IPPROTO_TCP && inner.protocol != IPPROTO_UDP) return 0;
  if (inner.saddr != nat_config.node_ip4) return 0;
  const __u32 ports_off = inner_off + sizeof(inner);
  if (bpf_skb_load_bytes(skb, ports_off, ports, sizeof(ports)) < 0) return 0;
  /* The quoted packet went node:port -> remote; an answer to it would be remote -> node:port. */
  struct nat_key rkey;
  nat_key_of(&rkey, inner.daddr, inner.saddr, ports[1], ports[0], inner.protocol, NAT_DIR_INGRESS);
  struct nat_entry* r = bpf_map_lookup_elem(&petrel_nat, &rkey);
  if (!r) return 0;
  const __be32 pod = r->to_addr;
  const __be16 pod_port = r->to_port;
  const __be32 node = inner.saddr;
  /* The quoted header's checksum after its source changes. */
  __u32 sum = (__u32)(__u16)~inner.check + (~(__u32)node & 0xffff) + (~(__u32)node >> 16) +
              ((__u32)pod & 0xffff) + ((__u32)pod >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  const __sum16 new_check = (__sum16)~sum;
  /* The ICMP checksum covers the quote: patch it for every quoted field that changes. */
  const __u32 icmp_csum = icmp_off + 2;
  *reason = PETREL_DROP_INVALID;
  if (bpf_l4_csum_replace(skb, icmp_csum, node, pod, sizeof(pod)) < 0 ||
      bpf_l4_csum_replace(skb, icmp_csum, inner.check, new_check, sizeof(new_check)) < 0 ||
      bpf_l4_csum_replace(skb, icmp_csum, ports[0], pod_port, sizeof(pod_port)) < 0 ||
      bpf_skb_store_bytes(skb, inner_off + offsetof(struct iphdr, saddr), &pod, sizeof(pod), 0) <
          0 ||
      bpf_skb_store_bytes(skb, inner_off + offsetof(struct iphdr, check), &new_check,
                          sizeof(new_check), 0) < 0 ||
      bpf_skb_store_bytes(skb, ports_off, &pod_port, sizeof(pod_port), 0) < 0 ||
      bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, check), node, pod,
                          sizeof(pod)) < 0 ||
      bpf_skb_store_bytes(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, daddr), &pod,
                          sizeof(pod), 0) < 0) {
    *action = TC_ACT_SHOT;
    return 1;
  }
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  iph = data + sizeof(*eth);
  *action = TC_ACT_SHOT;
  if ((void*)(eth + 1) > data_end || !ipv4_header_valid(iph, data_end)) return 1;
  struct endpoint_info* dst = endpoint_lookup_ip4(pod);
  *reason = PETREL_UNMASQUERADED;
  *action = TC_ACT_OK;
  if (!dst) return 1;
  *action = deliver_local_ipv4(eth, iph, dst, reason);
  if (*reason == PETREL_FORWARDED) *reason = PETREL_UNMASQUERADED;
  return 1;
}
