/* Rejecting traffic to a Service frontend that no backend can take, the way the node's stack
 * answers a port nobody listens on (and kube-proxy's reject rule): a TCP segment gets a reset, a
 * UDP datagram an ICMP port unreachable, sent from the frontend back out of the device the packet
 * came in on. The stack cannot be left to do it: a frontend need not be the node's own address,
 * and the stack forwards a packet for an externalIP or LoadBalancer address on instead of
 * answering it. Used for a frontend without backends, a TCP segment of no known connection (its
 * backend was removed, or it was never seen) and a backend pod that is gone.
 *
 * Only packets addressed to this host from a unicast source are answered, and ICMP errors at
 * the kernel's default rate; what else reaches here goes to the stack, which drops it.
 *
 * The answer is built in the packet itself. The reset's checksum is patched with the helpers
 * that know the skb's checksum state: a packet from a local veth may carry only the
 * pseudo-header sum, the rest left to whoever sends it (CHECKSUM_PARTIAL). In the other states
 * the field holds the full checksum, and one difference takes the old header and payload out
 * and the new header in without summing the payload: the incoming check field stands for them
 * (a valid segment sums to zero), and it cancels out, so the reset's checksum is right even for
 * a corrupt segment, which the stack would have dropped instead. The ICMP error's checksum is
 * written whole. */
#pragma once

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "compiler.h"
#include "flow.h"
#include "ipv4.h"
#include "reasons.h"

#define SERVICE_REJECT_DF bpf_htons(0x4000) /* don't fragment, as the stack's answers */
#define PETREL_PACKET_HOST 0                /* skb->pkt_type: addressed to this host */
/* ICMP errors, as the kernel's icmp_msgs_per_sec and icmp_msgs_burst: 1,000 a second, 50 at once
 * (resets, as the kernel's, are not limited). */
#define SERVICE_REJECT_ICMP_INTERVAL_NS 1000000ULL
#define SERVICE_REJECT_ICMP_BURST_NS (50 * SERVICE_REJECT_ICMP_INTERVAL_NS)

/* The rate limiter of ICMP errors (GCRA): when the next one is due, shared by all CPUs (a lost
 * update between two of them lets one more through). */
__u64 service_reject_icmp_due = 0;

static __always_inline int reject_icmp_allowed(__u64 now) {
  __u64 due = service_reject_icmp_due;
  if (due < now) due = now;
  if (due - now > SERVICE_REJECT_ICMP_BURST_NS) return 0;
  service_reject_icmp_due = due + SERVICE_REJECT_ICMP_INTERVAL_NS;
  return 1;
}

/* Whether a packet may be answered, by the kernel's rules: it was addressed to this host (not a
 * frame seen in promiscuous mode), from a unicast address (not "this network", loopback,
 * multicast, reserved or broadcast). */
static __always_inline int reject_answerable(const struct __sk_buff* skb, __be32 saddr) {
  const __u32 first = bpf_ntohl(saddr) >> 24;
  return skb->pkt_type == PETREL_PACKET_HOST && first != 0 && first != 127 && first < 224;
}
#define SERVICE_REJECT_TCP_CSUM_OFF (sizeof(struct ethhdr) + sizeof(struct iphdr) + 16)

/* The Ethernet header of an answer to the frame `eth`: back to its sender. */
static __always_inline void reject_eth_back(struct ethhdr* back, const struct ethhdr* eth) {
  __builtin_memcpy(back->h_dest, eth->h_source, ETH_ALEN);
  __builtin_memcpy(back->h_source, eth->h_dest, ETH_ALEN);
  back->h_proto = eth->h_proto;
}

/* What the checksum patch of a reset sums (see the file comment): the new TCP header with a zero
 * check, the incoming segment's pseudo-header and its check field, which together with the new
 * pseudo-header leave ~(new pseudo-header + new header) in the field. */
struct reject_tcp_sum {
  struct tcphdr th;
  __be32 saddr;
  __be32 daddr;
  __u8 zero;
  __u8 protocol;
  __be16 tcp_len;
  __sum16 check_in;
  __u16 pad;
};

/* The frame becomes a reset answering its TCP segment (RFC 9293 3.10.7.1): with the segment's
 * ACK number as its sequence number, or else acknowledging everything the segment occupied. A
 * reset is never answered. Returns the tc action; *reason says what became of it. */
static __always_inline int reject_tcp(struct __sk_buff* skb, __u32* reason) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* iph = data + sizeof(*eth);
  struct tcphdr* th = (void*)(iph + 1);
  *reason = PETREL_DROP_INVALID;
  if ((void*)(th + 1) > data_end || iph->ihl != 5 || th->doff < 5) return TC_ACT_SHOT;
  const __u16 tot_len = bpf_ntohs(iph->tot_len);
  const __u16 header_len = sizeof(*iph) + th->doff * 4;
  if (tot_len < header_len) return TC_ACT_SHOT;
  *reason = PETREL_LB_REJECTED;
  if (th->rst) return TC_ACT_SHOT;
  if (!reject_answerable(skb, iph->saddr)) {
    *reason = PETREL_TO_STACK; /* which drops it */
    return TC_ACT_OK;
  }

  struct reject_tcp_sum s;
  __builtin_memset(&s, 0, sizeof(s));
  s.th.source = th->dest;
  s.th.dest = th->source;
  s.th.doff = 5;
  s.th.rst = 1;
  if (th->ack) {
    s.th.seq = th->ack_seq;
  } else {
    s.th.ack = 1;
    s.th.ack_seq = bpf_htonl(bpf_ntohl(th->seq) + (tot_len - header_len) + th->syn + th->fin);
  }
  s.saddr = iph->saddr;
  s.daddr = iph->daddr;
  s.protocol = IPPROTO_TCP;
  s.tcp_len = bpf_htons(tot_len - sizeof(*iph));
  s.check_in = th->check;
  const __be32 client = iph->saddr, frontend = iph->daddr;
  struct ethhdr back;
  reject_eth_back(&back, eth);

  *reason = PETREL_DROP_INVALID;
  const __u32 len = sizeof(*eth) + sizeof(*iph) + sizeof(struct tcphdr);
  if (bpf_skb_change_tail(skb, len, 0)) return TC_ACT_SHOT;
  struct iphdr ip;
  ipv4_header_fill(&ip, frontend, client, IPPROTO_TCP, len - sizeof(*eth), 0, SERVICE_REJECT_DF);
  struct tcphdr out = s.th;
  out.check = s.check_in; /* patched below, in whichever checksum state the skb is */
  if (bpf_skb_store_bytes(skb, 0, &back, sizeof(back), 0) ||
      bpf_skb_store_bytes(skb, sizeof(*eth), &ip, sizeof(ip), 0) ||
      bpf_skb_store_bytes(skb, sizeof(*eth) + sizeof(ip), &out, sizeof(out), 0))
    return TC_ACT_SHOT;
  /* The pseudo-header: addresses swapped (the same sum), the length now the bare header's. */
  if (bpf_l4_csum_replace(skb, SERVICE_REJECT_TCP_CSUM_OFF, s.tcp_len,
                          bpf_htons(sizeof(struct tcphdr)), BPF_F_PSEUDO_HDR | 2))
    return TC_ACT_SHOT;
  /* The segment: old header and payload out, new header in, as one difference. */
  __s64 diff = bpf_csum_diff(0, 0, (__be32*)&s, sizeof(s), 0);
  if (diff < 0 || bpf_l4_csum_replace(skb, SERVICE_REJECT_TCP_CSUM_OFF, 0, (__u32)diff, 0))
    return TC_ACT_SHOT;
  *reason = PETREL_LB_REJECTED;
  return bpf_redirect(skb->ifindex, 0);
}

/* ICMP destination unreachable, port unreachable, quoting the datagram's IP header and first
 * eight bytes (RFC 792). */
struct reject_icmp {
  struct iphdr ip;
  struct icmp_echo_hdr icmp; /* id and sequence unused, 0 */
  struct iphdr quoted_ip;
  struct udphdr quoted_udp;
};

/* The frame becomes an ICMP port unreachable about its UDP datagram. Returns the tc action;
 * *reason says what became of it. */
static __always_inline int reject_udp(struct __sk_buff* skb, __u32* reason) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* iph = data + sizeof(*eth);
  struct udphdr* uh = (void*)(iph + 1);
  *reason = PETREL_DROP_INVALID;
  if ((void*)(uh + 1) > data_end || iph->ihl != 5) return TC_ACT_SHOT;
  if (!reject_answerable(skb, iph->saddr)) {
    *reason = PETREL_TO_STACK; /* which drops it */
    return TC_ACT_OK;
  }
  *reason = PETREL_DROP_REJECT_RATE;
  if (!reject_icmp_allowed(bpf_ktime_get_ns())) return TC_ACT_SHOT;
  *reason = PETREL_DROP_INVALID;
  struct reject_icmp r;
  __builtin_memset(&r, 0, sizeof(r));
  __builtin_memcpy(&r.quoted_ip, iph, sizeof(*iph));
  __builtin_memcpy(&r.quoted_udp, uh, sizeof(*uh));
  struct ethhdr back;
  reject_eth_back(&back, eth);
  ipv4_header_fill(&r.ip, iph->daddr, iph->saddr, IPPROTO_ICMP, sizeof(r), 0xc0, SERVICE_REJECT_DF);
  r.icmp.type = PETREL_ICMP_DEST_UNREACH;
  r.icmp.code = PETREL_ICMP_PORT_UNREACH;
  __s64 sum = bpf_csum_diff(0, 0, (__be32*)&r.icmp, sizeof(r) - sizeof(r.ip), 0);
  if (sum < 0) return TC_ACT_SHOT;
  r.icmp.checksum = (__sum16)~csum_fold16((__u32)sum);

  if (bpf_skb_change_tail(skb, sizeof(*eth) + sizeof(r), 0) ||
      bpf_skb_store_bytes(skb, 0, &back, sizeof(back), 0) ||
      bpf_skb_store_bytes(skb, sizeof(*eth), &r, sizeof(r), 0))
    return TC_ACT_SHOT;
  *reason = PETREL_LB_REJECTED;
  return bpf_redirect(skb->ifindex, 0);
}

/* Rejects the TCP or UDP packet at the start of the frame. */
static __always_inline int service_reject(struct __sk_buff* skb, __u8 proto, __u32* reason) {
  return proto == IPPROTO_TCP ? reject_tcp(skb, reason) : reject_udp(skb, reason);
}
