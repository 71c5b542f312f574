/* Masquerading (source NAT to the node address): the NAT map, flow tuples read from packets,
 * port allocation and the header rewrites with incremental checksum updates. Used by the nat
 * programs on the node's uplink. */
#pragma once

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "compiler.h"
#include "maps.h"

/* The ICMP echo header (linux/icmp.h drags libc headers into BPF builds). */
struct icmp_echo_hdr {
  __u8 type;
  __u8 code;
  __sum16 checksum;
  __be16 id;
  __be16 sequence;
};
#define PETREL_ICMP_ECHOREPLY 0
#define PETREL_ICMP_ECHO 8

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, PETREL_MAX_NAT_ENTRIES);
  __type(key, struct nat_key);
  __type(value, struct nat_entry);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_nat SEC(".maps");

/* Written by the agent (and the tests) through the skeleton's mmapped .bss. */
struct nat_config nat_config = {};

#define NAT_PORT_TRIES 32            /* probes for a free port before giving up */
#define NAT_REFRESH_NS 1000000000ULL /* last_seen is rewritten at most once a second */
#define PETREL_IP_FRAGMENT 0x3FFF    /* MF flag or a fragment offset */

/* A packet's flow: addresses and ports (ICMP echo: the identifier) as in the headers. */
struct nat_tuple {
  __be32 saddr;
  __be32 daddr;
  __be16 sport;
  __be16 dport;
  __u8 proto;
  __u8 tcp_flags; /* TCP only: FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10 */
  __u8 icmp_type;
  __u32 l4_off; /* from the start of the frame */
};

#define NAT_TCP_FIN 0x01
#define NAT_TCP_SYN 0x02
#define NAT_TCP_RST 0x04
#define NAT_TCP_ACK 0x10

/* Reads the tuple of an IPv4 packet whose header is valid. Returns 0, or -1 when the packet
 * cannot be translated (a fragment, a protocol other than TCP/UDP/ICMP, a short L4 header). */
static __always_inline int nat_tuple_read(struct __sk_buff* skb, struct iphdr* iph,
                                          struct nat_tuple* t) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
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

static __always_inline void nat_key_of(struct nat_key* k, __be32 saddr, __be32 daddr, __be16 sport,
                                       __be16 dport, __u8 proto, __u8 dir) {
  __builtin_memset(k, 0, sizeof(*k));
  k->saddr = saddr;
  k->daddr = daddr;
  k->sport = sport;
  k->dport = dport;
  k->proto = proto;
  k->dir = dir;
  k->family = PETREL_AF_INET;
}

static __always_inline int nat_entry_stale(const struct nat_entry* e, __u8 proto, __u64 now) {
  __u64 timeout = nat_config.udp_timeout_ns;
  if (proto == IPPROTO_TCP)
    timeout = e->flags & NAT_F_CLOSING ? nat_config.closing_timeout_ns : nat_config.tcp_timeout_ns;
  return now - e->last_seen_ns > timeout;
}

/* Marks a packet's passage: last_seen (at most once a second) and the TCP closing state. */
static __always_inline void nat_entry_touch(struct nat_entry* e, const struct nat_tuple* t,
                                            __u64 now) {
  __u8 flags = e->flags;
  if (t->proto == IPPROTO_TCP) {
    if (t->tcp_flags & (NAT_TCP_FIN | NAT_TCP_RST))
      flags |= NAT_F_CLOSING;
    else if ((t->tcp_flags & (NAT_TCP_SYN | NAT_TCP_ACK)) == NAT_TCP_SYN)
      flags &= ~NAT_F_CLOSING;
  }
  if (flags != e->flags) e->flags = flags;
  if (now - e->last_seen_ns > NAT_REFRESH_NS) e->last_seen_ns = now;
}

/* The reply-direction key of an egress flow translated to node_ip:port. */
static __always_inline void nat_reply_key(struct nat_key* k, const struct nat_tuple* t,
                                          __be16 port) {
  if (t->proto == IPPROTO_ICMP)
    nat_key_of(k, t->daddr, nat_config.node_ip4, 0, port, t->proto, NAT_DIR_INGRESS);
  else
    nat_key_of(k, t->daddr, nat_config.node_ip4, t->dport, port, t->proto, NAT_DIR_INGRESS);
}

/* Claims a node port for the flow `t` (a pod's first packet toward the outside) and records both
 * directions. Returns the egress entry, or NULL when no port is free for this destination. A
 * port whose flow has gone idle past its timeout is taken over, and that flow's egress entry
 * removed. */
static __always_inline struct nat_entry* nat_allocate(const struct nat_tuple* t, __u64 now) {
  __u32 range = (__u32)nat_config.port_max - nat_config.port_min + 1;
  if (nat_config.port_max < nat_config.port_min) return 0;
  __u32 start = bpf_get_prandom_u32() % range;
  struct nat_entry reply = {.to_addr = t->saddr, .to_port = t->sport, .last_seen_ns = now};
  struct nat_key rkey;
  __be16 port = 0;
  for (int i = 0; i < NAT_PORT_TRIES; i++) {
    __be16 candidate = bpf_htons((__u16)(nat_config.port_min + (start + i) % range));
    nat_reply_key(&rkey, t, candidate);
    if (bpf_map_update_elem(&petrel_nat, &rkey, &reply, BPF_NOEXIST) == 0) {
      port = candidate;
      break;
    }
    struct nat_entry* held = bpf_map_lookup_elem(&petrel_nat, &rkey);
    if (held && nat_entry_stale(held, t->proto, now)) {
      struct nat_key old;
      if (t->proto == IPPROTO_ICMP)
        nat_key_of(&old, held->to_addr, t->daddr, held->to_port, 0, t->proto, NAT_DIR_EGRESS);
      else
        nat_key_of(&old, held->to_addr, t->daddr, held->to_port, t->dport, t->proto,
                   NAT_DIR_EGRESS);
      bpf_map_delete_elem(&petrel_nat, &old);
      if (bpf_map_update_elem(&petrel_nat, &rkey, &reply, BPF_ANY) == 0) {
        port = candidate;
        break;
      }
    }
    if (i + 1 >= (int)range) break; /* every port of a small range probed */
  }
  if (!port) return 0;
  struct nat_key ekey;
  nat_key_of(&ekey, t->saddr, t->daddr, t->sport, t->dport, t->proto, NAT_DIR_EGRESS);
  struct nat_entry forward = {.to_addr = nat_config.node_ip4, .to_port = port, .last_seen_ns = now};
  if (bpf_map_update_elem(&petrel_nat, &ekey, &forward, BPF_NOEXIST) != 0) {
    /* Another CPU translated the same new flow first: keep its port, give ours back. */
    bpf_map_delete_elem(&petrel_nat, &rkey);
  }
  return bpf_map_lookup_elem(&petrel_nat, &ekey);
}

/* Offsets of the rewritten fields. */
static __always_inline __u32 nat_csum_off(const struct nat_tuple* t) {
  if (t->proto == IPPROTO_TCP) return t->l4_off + offsetof(struct tcphdr, check);
  if (t->proto == IPPROTO_UDP) return t->l4_off + offsetof(struct udphdr, check);
  return t->l4_off + offsetof(struct icmp_echo_hdr, checksum);
}

/* Rewrites the source (egress) or destination (ingress) address and port of the packet, with
 * the IPv4 and L4 checksums patched incrementally (the helpers also handle checksum offload).
 * For ICMP echo the identifier is the port, and the ICMP checksum has no pseudo-header.
 * Returns 0 or a negative error. Packet pointers are invalid afterwards. */
static __always_inline int nat_rewrite(struct __sk_buff* skb, const struct nat_tuple* t, int source,
                                       __be32 to_addr, __be16 to_port) {
  __be32 from_addr = source ? t->saddr : t->daddr;
  __be16 from_port = source ? t->sport : t->dport;
  __u32 addr_off = sizeof(struct ethhdr) +
                   (source ? offsetof(struct iphdr, saddr) : offsetof(struct iphdr, daddr));
  __u32 port_off = t->proto == IPPROTO_ICMP ? t->l4_off + offsetof(struct icmp_echo_hdr, id)
                                            : t->l4_off + (source ? offsetof(struct tcphdr, source)
                                                                  : offsetof(struct tcphdr, dest));
  __u32 csum_off = nat_csum_off(t);
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
