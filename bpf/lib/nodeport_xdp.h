/* The XDP fast path of packet-level Service load balancing, on the node's uplink: connections
 * from outside to a NodePort, externalIP or LoadBalancer address whose backend is on another
 * node are translated (destination to the backend, source to the node's address and a port of
 * the masquerade range) and sent back out by XDP_TX, before the kernel allocates an skb; the
 * backend's answers, arriving at that port, go back to the client the same way. The choice of
 * backend and the conntrack and NAT entries are the tc path's own (service_xlate.h, nat.h), so
 * either path can carry any packet of a connection. Everything else, and whatever needs the
 * stack (a backend in a pod of this node, an unresolved neighbour, a stray), is passed to tc
 * untouched. */
#pragma once

#include <linux/if_ether.h>
#include <linux/ip.h>

#include "compiler.h"
#include "fib.h"
#include "ipv4.h"
#include "metrics.h"
#include "nat.h"
#include "service_xlate.h"

/* Incremental checksum update (RFC 1624: HC' = ~(~HC + ~m + m')), summed over 16-bit words; the
 * one's-complement sum does not depend on byte order. */
static __always_inline __u32 csum_delta32(__be32 from, __be32 to) {
  __u32 nf = ~(__u32)from;
  return (nf & 0xffff) + (nf >> 16) + ((__u32)to & 0xffff) + ((__u32)to >> 16);
}

static __always_inline __u32 csum_delta16(__be16 from, __be16 to) {
  return ((__u32)(__u16)~from) + (__u32)to;
}

static __always_inline __sum16 csum_apply(__sum16 check, __u32 delta) {
  __u32 sum = (__u32)(__u16)~check + delta;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__sum16)~sum;
}

/* The new addresses and ports of a packet, and the MACs and device it leaves by. */
struct xdp_translation {
  __be32 saddr;
  __be32 daddr;
  __be16 sport;
  __be16 dport;
  __u32 ifindex;
  __u8 smac[ETH_ALEN];
  __u8 dmac[ETH_ALEN];
};

/* The next hop toward x->daddr from x->saddr, by the kernel's FIB. Returns 0 with the MACs and
 * device filled, or -1 when the stack must resolve it (no route, neighbour not yet known). */
static __always_inline int xdp_next_hop(struct xdp_md* ctx, const struct iphdr* iph,
                                        struct xdp_translation* x) {
  struct bpf_fib_lookup p;
  __builtin_memset(&p, 0, sizeof(p));
  p.family = PETREL_AF_INET_KERNEL;
  p.tos = iph->tos;
  p.l4_protocol = iph->protocol;
  p.tot_len = bpf_ntohs(iph->tot_len);
  p.ipv4_src = x->saddr;
  p.ipv4_dst = x->daddr;
  p.ifindex = ctx->ingress_ifindex;
  if (bpf_fib_lookup(ctx, &p, sizeof(p), 0) != BPF_FIB_LKUP_RET_SUCCESS) return -1;
  x->ifindex = p.ifindex;
  __builtin_memcpy(x->smac, p.smac, ETH_ALEN);
  __builtin_memcpy(x->dmac, p.dmac, ETH_ALEN);
  return 0;
}

/* Rewrites the frame to `x` (both checksums patched incrementally) and sends it: XDP_TX when it
 * leaves by the device it came in on, else a redirect. */
static __always_inline int xdp_translate_and_send(struct xdp_md* ctx, struct ethhdr* eth,
                                                  struct iphdr* iph, const struct flow_tuple* t,
                                                  const struct xdp_translation* x) {
  void* data_end = (void*)(long)ctx->data_end;
  __u32 l3 = csum_delta32(t->saddr, x->saddr) + csum_delta32(t->daddr, x->daddr);
  __u32 l4 = l3 + csum_delta16(t->sport, x->sport) + csum_delta16(t->dport, x->dport);
  void* l4h = (void*)iph + iph->ihl * 4;
  if (t->proto == IPPROTO_TCP) {
    struct tcphdr* th = l4h;
    if ((void*)(th + 1) > data_end) return XDP_DROP;
    th->source = x->sport;
    th->dest = x->dport;
    th->check = csum_apply(th->check, l4);
  } else {
    struct udphdr* uh = l4h;
    if ((void*)(uh + 1) > data_end) return XDP_DROP;
    uh->source = x->sport;
    uh->dest = x->dport;
    if (uh->check) { /* 0: the sender sent no checksum */
      __sum16 check = csum_apply(uh->check, l4);
      uh->check = check ? check : (__sum16)0xffff;
    }
  }
  iph->saddr = x->saddr;
  iph->daddr = x->daddr;
  iph->check = csum_apply(iph->check, l3);
  __builtin_memcpy(eth->h_source, x->smac, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, x->dmac, ETH_ALEN);
  if (x->ifindex == ctx->ingress_ifindex) return XDP_TX;
  return bpf_redirect(x->ifindex, 0);
}

static __always_inline int xdp_count(struct xdp_md* ctx, __u32 reason, int action) {
  metrics_count(reason, METRIC_DIR_INGRESS, ctx->data_end - ctx->data);
  return action;
}

/* A new or established connection to a frontend of `svc` whose backend is on another node. */
static __always_inline int nodeport_xdp_forward(struct xdp_md* ctx, struct ethhdr* eth,
                                                struct iphdr* iph, const struct flow_tuple* t,
                                                const struct lb_service_value* svc) {
  __u64 now = bpf_ktime_get_ns();
  struct service_target target;
  if (service_target_of(t, svc, now, &target) < 0) return XDP_PASS;
  if (!target.snat) return XDP_PASS; /* a backend in a pod here: tc delivers it (CT is set) */
  struct flow_tuple to_backend = *t;
  to_backend.daddr = target.addr;
  to_backend.dport = target.port;
  struct nat_entry* e = nat_lookup_egress(&to_backend, now);
  if (!e) e = nat_allocate(&to_backend, now);
  if (!e) return xdp_count(ctx, PETREL_DROP_NAT_NO_PORT, XDP_DROP);
  nat_entry_touch(e, &to_backend, now);
  struct xdp_translation x = {
      .saddr = e->to_addr, .daddr = target.addr, .sport = e->to_port, .dport = target.port};
  if (xdp_next_hop(ctx, iph, &x) < 0) return XDP_PASS; /* tc resolves it (the flow is set up) */
  int action = xdp_translate_and_send(ctx, eth, iph, t, &x);
  return xdp_count(ctx, action == XDP_DROP ? PETREL_DROP_INVALID : PETREL_LB_FORWARDED_XDP, action);
}

/* A remote backend's answer to the node's address and a translated port: back to the client
 * from the frontend. Anything else at the node's address passes. */
static __always_inline int nodeport_xdp_reply(struct xdp_md* ctx, struct ethhdr* eth,
                                              struct iphdr* iph, const struct flow_tuple* t) {
  __u16 port = bpf_ntohs(t->dport);
  if (port < nat_config.port_min || port > nat_config.port_max) return XDP_PASS;
  struct nat_key rkey;
  nat_key_of(&rkey, t->saddr, t->daddr, t->sport, t->dport, t->proto, NAT_DIR_INGRESS);
  struct nat_entry* r = bpf_map_lookup_elem(&petrel_nat, &rkey);
  if (!r) return XDP_PASS;
  struct flow_tuple back = *t;
  back.daddr = r->to_addr;
  back.dport = r->to_port;
  struct ct_entry* ct = ct_lookup_reply(&back);
  if (!ct) return XDP_PASS; /* a masqueraded pod flow: tc delivers it into the pod */
  __u64 now = bpf_ktime_get_ns();
  nat_entry_touch(r, t, now);
  ct_touch(ct, &back, CT_F_REPLIED);
  struct xdp_translation x = {
      .saddr = ct->addr, .daddr = r->to_addr, .sport = ct->port, .dport = r->to_port};
  if (xdp_next_hop(ctx, iph, &x) < 0) return XDP_PASS;
  int action = xdp_translate_and_send(ctx, eth, iph, t, &x);
  return xdp_count(ctx, action == XDP_DROP ? PETREL_DROP_INVALID : PETREL_LB_REPLIED_XDP, action);
}

/* The XDP program's body: returns the XDP action. */
static __always_inline int nodeport_xdp(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
  struct iphdr* iph = data + sizeof(*eth);
  if (!ipv4_header_valid(iph, data_end)) return XDP_PASS;
  if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP) return XDP_PASS;
  struct flow_tuple t;
  if (flow_tuple_parse(data, data_end, iph, &t) < 0) return XDP_PASS;
  /* The overlay's own packets (most of the traffic in tunnel mode) pass at once. */
  if (nat_config.tunnel_port && t.proto == IPPROTO_UDP && t.dport == nat_config.tunnel_port &&
      t.daddr == nat_config.node_ip4)
    return XDP_PASS;
  struct lb_service_value* svc = lb_lookup_service(t.daddr, t.dport, t.proto);
  if (svc && svc->kind != LB_KIND_CLUSTER_IP) return nodeport_xdp_forward(ctx, eth, iph, &t, svc);
  if (nat_config.node_ip4 && t.daddr == nat_config.node_ip4)
    return nodeport_xdp_reply(ctx, eth, iph, &t);
  return XDP_PASS;
}
