/* The XDP fast path of packet-level Service load balancing, on the node's uplink: connections
 * from outside to a NodePort, externalIP or LoadBalancer address whose backend is on another
 * node are translated (destination to the backend, source to the node's address and a port of
 * the masquerade range) and sent back out by XDP_TX, before the kernel allocates an skb
 * (wrapped in VXLAN toward the backend's node in tunnel mode); the backend's answers, arriving
 * at that port, go back to the client the same way. The choice of
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
#include "tunnel.h"

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
  return (__sum16)~csum_fold16((__u32)(__u16)~check + delta);
}

/* The new addresses and ports of a packet. */
struct xdp_translation {
  __be32 saddr;
  __be32 daddr;
  __be16 sport;
  __be16 dport;
};

/* The MACs of the next hop toward `dst` from `src` for an IP packet of `tot_len` bytes, by the
 * kernel's FIB. Returns 0 when it leaves by the device it came in on (XDP_TX), else -1: the
 * stack must handle it (no route, neighbour not yet known, too big for the MTU, another
 * device such as the overlay's). */
static __always_inline int xdp_next_hop(struct xdp_md* ctx, const struct iphdr* iph, __be32 src,
                                        __be32 dst, __u16 tot_len, __u8* smac, __u8* dmac) {
  struct bpf_fib_lookup p;
  __builtin_memset(&p, 0, sizeof(p));
  p.family = PETREL_AF_INET_KERNEL;
  p.tos = iph->tos;
  p.l4_protocol = iph->protocol;
  p.tot_len = tot_len;
  p.ipv4_src = src;
  p.ipv4_dst = dst;
  p.ifindex = ctx->ingress_ifindex;
  if (bpf_fib_lookup(ctx, &p, sizeof(p), 0) != BPF_FIB_LKUP_RET_SUCCESS) return -1;
  if (p.ifindex != ctx->ingress_ifindex) return -1;
  __builtin_memcpy(smac, p.smac, ETH_ALEN);
  __builtin_memcpy(dmac, p.dmac, ETH_ALEN);
  return 0;
}

/* Rewrites the packet's addresses and ports to `x`, both checksums patched incrementally.
 * Returns -1 when the L4 header is cut short. */
static __always_inline int xdp_rewrite(struct xdp_md* ctx, struct iphdr* iph,
                                       const struct flow_tuple* t,
                                       const struct xdp_translation* x) {
  void* data_end = (void*)(long)ctx->data_end;
  __u32 l3 = csum_delta32(t->saddr, x->saddr) + csum_delta32(t->daddr, x->daddr);
  __u32 l4 = l3 + csum_delta16(t->sport, x->sport) + csum_delta16(t->dport, x->dport);
  void* l4h = (void*)iph + iph->ihl * 4;
  if (t->proto == IPPROTO_TCP) {
    struct tcphdr* th = l4h;
    if ((void*)(th + 1) > data_end) return -1;
    th->source = x->sport;
    th->dest = x->dport;
    th->check = csum_apply(th->check, l4);
  } else {
    struct udphdr* uh = l4h;
    if ((void*)(uh + 1) > data_end) return -1;
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
  return 0;
}

/* Wraps the (already translated) frame in VXLAN toward `remote`, from the node's address, and
 * sends it back out with XDP_TX. Returns the XDP action, or -1 to leave it to the stack. */
static __always_inline int xdp_encap_and_send(struct xdp_md* ctx, __be32 remote, __u32 hash,
                                              const __u8* smac, const __u8* dmac) {
  if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct vxlan_encap))) return XDP_DROP;
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct vxlan_encap* h = data;
  if ((void*)(h + 1) > data_end) return XDP_DROP;
  __u16 inner_len = (__u16)(data_end - data - sizeof(*h)); /* the inner frame */
  __builtin_memcpy(h->eth.h_source, smac, ETH_ALEN);
  __builtin_memcpy(h->eth.h_dest, dmac, ETH_ALEN);
  h->eth.h_proto = bpf_htons(ETH_P_IP);
  struct iphdr ip;
  ipv4_header_fill(&ip, nat_config.node_ip4, remote, IPPROTO_UDP, inner_len + VXLAN_ENCAP_LEN, 0,
                   0);
  __builtin_memcpy(&h->ip, &ip, sizeof(ip));
  /* The source port spreads flows over the receiver's queues, as the kernel's VXLAN does. */
  h->udp.source = bpf_htons((__u16)(0xc000 | (hash & 0x3fff)));
  h->udp.dest = nat_config.tunnel_port;
  h->udp.len = bpf_htons(inner_len + sizeof(struct udphdr) + 8);
  h->udp.check = 0;
  h->vx_flags = bpf_htonl(VXLAN_FLAG_G | VXLAN_FLAG_I | PETREL_IDENTITY_HOST);
  h->vx_vni = bpf_htonl(PETREL_OVERLAY_VNI << 8);
  return XDP_TX;
}

static __always_inline int xdp_count(struct xdp_md* ctx, __u32 reason, int action) {
  metrics_count(reason, METRIC_DIR_INGRESS, ctx->data_end - ctx->data);
  return action;
}

/* Whether `ct` holds a next hop found in the last second for a packet at least this large (so
 * the MTU was checked). */
static __always_inline int xdp_hop_cached(const struct ct_entry* ct, __u16 tot_len, __u64 now) {
  return ct && tot_len <= ct->hop_len && now - ct->hop_ns <= CT_REFRESH_NS;
}

static __always_inline void xdp_cache_hop(struct ct_entry* ct, __u16 tot_len, __u64 now,
                                          __be32 tunnel, const __u8* smac, const __u8* dmac) {
  if (!ct) return;
  __builtin_memcpy(ct->hop_smac, smac, ETH_ALEN);
  __builtin_memcpy(ct->hop_dmac, dmac, ETH_ALEN);
  ct->hop_tunnel = tunnel;
  ct->hop_len = tot_len > ct->hop_len || now - ct->hop_ns > CT_REFRESH_NS ? tot_len : ct->hop_len;
  ct->hop_ns = now;
}

/* Translates the frame to `x` and sends it toward x->daddr: through the overlay (tunnel mode,
 * a pod of another node) or straight back out. The next hop (and the tunnel) come from the
 * connection's cache in `ct` (this direction's conntrack entry, may be NULL), else from the
 * tunnel map and the FIB, and are cached. Returns -1, with the frame untouched, when the stack
 * must handle it. */
static __always_inline int xdp_forward(struct xdp_md* ctx, struct ethhdr* eth, struct iphdr* iph,
                                       const struct flow_tuple* t, const struct xdp_translation* x,
                                       struct ct_entry* ct, __u64 now) {
  __u8 smac[ETH_ALEN], dmac[ETH_ALEN];
  const __u16 tot_len = bpf_ntohs(iph->tot_len);
  const __u16 encap_len = tot_len + sizeof(struct ethhdr) + VXLAN_ENCAP_LEN;
  __be32 tunnel = 0;
  if (ct && xdp_hop_cached(ct, ct->hop_tunnel ? encap_len : tot_len, now)) {
    tunnel = ct->hop_tunnel;
    __builtin_memcpy(smac, ct->hop_smac, ETH_ALEN);
    __builtin_memcpy(dmac, ct->hop_dmac, ETH_ALEN);
  } else {
    struct tunnel_info* remote = nat_config.tunnel_port ? tunnel_lookup_ip4(x->daddr) : 0;
    if (remote) tunnel = remote->ip4;
    const __u16 len = tunnel ? encap_len : tot_len;
    if (xdp_next_hop(ctx, iph, tunnel ? nat_config.node_ip4 : x->saddr, tunnel ? tunnel : x->daddr,
                     len, smac, dmac) < 0)
      return -1;
    xdp_cache_hop(ct, len, now, tunnel, smac, dmac);
  }
  if (xdp_rewrite(ctx, iph, t, x) < 0) return XDP_DROP;
  if (tunnel) return xdp_encap_and_send(ctx, tunnel, flow_hash(t), smac, dmac);
  __builtin_memcpy(eth->h_source, smac, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
  return XDP_TX;
}

/* A new or established connection to a frontend of `svc` whose backend is on another node. */
static __always_inline int nodeport_xdp_forward(struct xdp_md* ctx, struct ethhdr* eth,
                                                struct iphdr* iph, const struct flow_tuple* t,
                                                const struct lb_service_value* svc) {
  __u64 now = bpf_ktime_get_ns();
  struct service_target target;
  __u32 no_target;
  if (service_target_of(t, svc, now, &target, &no_target) < 0) return XDP_PASS;
  if (!target.snat) return XDP_PASS; /* a backend in a pod here: tc delivers it (CT is set) */
  /* The node's port for this connection, kept in its conntrack entry; the NAT entries are
   * looked up (and kept alive) only when that is refreshed, once a second. */
  __be16 nat_port = target.ct ? target.ct->nat_port : 0;
  if (!nat_port || target.refreshed) {
    struct flow_tuple to_backend = *t;
    to_backend.daddr = target.addr;
    to_backend.dport = target.port;
    struct nat_entry* e = nat_lookup_egress(&to_backend, now);
    __u32 reason;
    if (!e) e = nat_allocate(&to_backend, now, &reason);
    if (!e) return xdp_count(ctx, reason, XDP_DROP);
    nat_entry_touch(e, &to_backend, now);
    nat_port = e->to_port;
    if (target.ct) target.ct->nat_port = nat_port;
  }
  struct xdp_translation x = {
      .saddr = nat_config.node_ip4, .daddr = target.addr, .sport = nat_port, .dport = target.port};
  int action = xdp_forward(ctx, eth, iph, t, &x, target.ct, now);
  if (action < 0) return XDP_PASS; /* tc does it (the flow is set up) */
  return xdp_count(ctx, action == XDP_DROP ? PETREL_DROP_INVALID : PETREL_LB_FORWARDED_XDP, action);
}

/* A remote backend's answer to the node's address and a translated port: back to the client
 * from the frontend. Anything else at the node's address passes. */
static __always_inline int nodeport_xdp_reply(struct xdp_md* ctx, struct ethhdr* eth,
                                              struct iphdr* iph, const struct flow_tuple* t) {
  __u16 port = bpf_ntohs(t->dport);
  if (port < nat_config.port_min || port > nat_config.port_max) return XDP_PASS;
  struct flow_key rkey;
  flow_key_of(&rkey, t->saddr, t->daddr, t->sport, t->dport, t->proto, NAT_DIR_INGRESS);
  struct nat_entry* r = bpf_map_lookup_elem(&petrel_nat, &rkey);
  if (!r) return XDP_PASS;
  struct flow_tuple back = *t;
  back.daddr = r->to_addr;
  back.dport = r->to_port;
  struct ct_entry* ct = ct_lookup_reply(&back);
  if (!ct) return XDP_PASS; /* a masqueraded pod flow: tc delivers it into the pod */
  __u64 now = bpf_ktime_get_ns();
  nat_entry_touch(r, t, now);
  ct_touch_at(ct, &back, CT_F_REPLIED, now);
  struct xdp_translation x = {
      .saddr = ct->addr, .daddr = r->to_addr, .sport = ct->port, .dport = r->to_port};
  int action = xdp_forward(ctx, eth, iph, t, &x, ct, now);
  if (action < 0) return XDP_PASS;
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
