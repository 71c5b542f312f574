/* uplink: tc programs on the node's uplink (the device of the default route).
 * - Service load balancing for traffic from outside: a connection to a NodePort, externalIP or
 *   LoadBalancer address is sent to a backend with connection tracking
 *   (bpf/lib/service_xlate.h), or answered with a reset or port unreachable when no backend can
 *   take it.
 * - Masquerading, egress: a packet from one of this node's pods to an address outside the
 *   cluster (not a pod CIDR of any node) leaves with the node's address and a port from the
 *   configured range; TCP gets a port on its SYN, ICMP on an echo request, UDP on any packet.
 *   UDP flows opened from outside toward a pod are remembered so the pod's answers keep its
 *   address. A pod's ICMP errors leave as the answers of the flow they are about.
 * - Ingress to an allocated port: translated back, then delivered into the pod, or (a Service
 *   backend on another node answering) sent on to the client with the frontend's address. ICMP
 *   errors about a pod's masqueraded packets go back to the pod (bpf/lib/nat_icmp_error.h), and
 *   those about a Service connection from outside to its backend or its client
 *   (bpf/lib/service_icmp_error.h).
 * - Other nodes' pods to this node's, ingress: tunnelled (VXLAN to the overlay port) packets are
 *   decapsulated (bpf/lib/overlay_decap.h), and in native routing mode plain ones taken as they
 *   are, and either way redirected into the pod.
 * - XDP, before either: the fast path of Service traffic from outside to backends on other
 *   nodes, both ways (bpf/lib/nodeport_xdp.h); what it does not finish goes on to tc ingress.
 * Other traffic passes untouched. Every translated or dropped packet is counted by reason. */
#include <linux/if_ether.h>
#include <linux/ip.h>

#include "compiler.h"
#include "deliver.h"
#include "endpoints.h"
#include "ipv4.h"
#include "metrics.h"
#include "nat.h"
#include "nat_icmp_error.h"
#include "nodeport_xdp.h"
#include "overlay_decap.h"
#include "service_icmp_error.h"
#include "service_xlate.h"
#include "tunnel.h"

static __always_inline int count(struct __sk_buff* skb, __u32 reason, __u32 dir, int action) {
  metrics_count(reason, dir, skb->len);
  return PETREL_IS_DROP(reason) ? TC_ACT_SHOT : action;
}

static __always_inline int is_local_pod(__be32 ip4) {
  return (ip4 & nat_config.pod_mask4) == nat_config.pod_net4;
}

/* In the cluster: a pod of this node or of any node in the tunnel map (which, in native
 * routing mode too, lists every other node's pod CIDR). */
static __always_inline int in_cluster(__be32 ip4) {
  return is_local_pod(ip4) || tunnel_lookup_ip4(ip4);
}

SEC("tc")
int petrel_uplink_egress(struct __sk_buff* skb) {
  if (!nat_config.masquerade) return TC_ACT_OK;
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP)) return TC_ACT_OK;
  struct iphdr* iph = data + sizeof(*eth);
  if (!ipv4_header_valid(iph, data_end)) return TC_ACT_OK;
  if (!is_local_pod(iph->saddr) || in_cluster(iph->daddr)) return TC_ACT_OK;
  if (iph->protocol == IPPROTO_ICMP && !(iph->frag_off & bpf_htons(PETREL_IP_FRAGMENT))) {
    __u32 reason;
    int action;
    if (nat_icmp_error_egress(skb, iph, &action, &reason)) {
      return reason == PETREL_TO_STACK ? action : count(skb, reason, METRIC_DIR_EGRESS, action);
    }
  }

  struct flow_tuple t;
  if (flow_tuple_read(skb, iph, &t) < 0) {
    return count(skb, PETREL_DROP_NAT_UNSUPPORTED, METRIC_DIR_EGRESS, 0);
  }
  __u64 now = bpf_ktime_get_ns();
  struct nat_entry* e = nat_lookup_egress(&t, now);
  if (e && (e->flags & NAT_F_PASSTHROUGH)) {
    nat_entry_touch(e, &t, now);
    return TC_ACT_OK;
  }
  if (!e) {
    /* Only flows the pod opens get a port; answers within flows opened from outside (a SYN-ACK,
     * an echo reply) pass as they are. */
    if (t.proto == IPPROTO_TCP && (t.tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK)) != FLOW_TCP_SYN)
      return TC_ACT_OK;
    if (t.proto == IPPROTO_ICMP && t.icmp_type != PETREL_ICMP_ECHO) return TC_ACT_OK;
    __u32 reason;
    e = nat_allocate(&t, now, &reason);
    if (!e) return count(skb, reason, METRIC_DIR_EGRESS, 0);
  }
  nat_entry_touch(e, &t, now);
  __be32 to_addr = e->to_addr;
  __be16 to_port = e->to_port;
  if (flow_rewrite(skb, &t, 1, to_addr, to_port) < 0) {
    return count(skb, PETREL_DROP_INVALID, METRIC_DIR_EGRESS, 0);
  }
  return count(skb, PETREL_MASQUERADED, METRIC_DIR_EGRESS, TC_ACT_OK);
}

/* A reply to a masqueraded flow: translate back and deliver into the pod. */
static __always_inline int reverse_translate(struct __sk_buff* skb, const struct flow_tuple* t) {
  __u16 port = bpf_ntohs(t->dport);
  if (port < nat_config.port_min || port > nat_config.port_max) return TC_ACT_OK;
  struct flow_key rkey;
  flow_key_of(&rkey, t->saddr, t->daddr, t->sport, t->dport, t->proto, NAT_DIR_INGRESS);
  struct nat_entry* r = bpf_map_lookup_elem(&petrel_nat, &rkey);
  if (!r) return TC_ACT_OK; /* not a translated flow: the node's own traffic */
  nat_entry_touch(r, t, bpf_ktime_get_ns());
  __be32 to_addr = r->to_addr;
  __be16 to_port = r->to_port;
  if (flow_rewrite(skb, t, 0, to_addr, to_port) < 0) {
    return count(skb, PETREL_DROP_INVALID, METRIC_DIR_INGRESS, 0);
  }
  /* A Service backend on another node answering through the node's address: on to the client
   * with the frontend's address. */
  struct flow_tuple back = *t;
  back.daddr = to_addr;
  back.dport = to_port;
  __u32 reason;
  int action = service_reply(skb, &back, &reason);
  if (action >= 0) return count(skb, reason, METRIC_DIR_INGRESS, action);
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* iph = data + sizeof(*eth);
  if ((void*)(eth + 1) > data_end || !ipv4_header_valid(iph, data_end)) {
    return count(skb, PETREL_DROP_INVALID, METRIC_DIR_INGRESS, 0);
  }
  struct endpoint_info* dst = endpoint_lookup_ip4(to_addr);
  if (!dst) return count(skb, PETREL_UNMASQUERADED, METRIC_DIR_INGRESS, TC_ACT_OK);
  action = deliver_local_ipv4(eth, iph, dst, &reason);
  return count(skb, reason == PETREL_FORWARDED ? PETREL_UNMASQUERADED : reason, METRIC_DIR_INGRESS,
               action);
}

SEC("tc")
int petrel_uplink_ingress(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP)) return TC_ACT_OK;
  struct iphdr* iph = data + sizeof(*eth);
  if (!ipv4_header_valid(iph, data_end)) return TC_ACT_OK;
  /* The overlay's own packets (most of the traffic in tunnel mode): those for local pods go
   * straight to them, the rest to the VXLAN device. */
  if (nat_config.tunnel_port && iph->protocol == IPPROTO_UDP && iph->daddr == nat_config.node_ip4) {
    struct udphdr* uh = (void*)iph + iph->ihl * 4;
    if ((void*)(uh + 1) <= data_end && uh->dest == nat_config.tunnel_port) {
      __u32 reason;
      int action;
      if (overlay_decap_to_pod(skb, &action, &reason))
        return count(skb, reason, METRIC_DIR_INGRESS, action);
      return TC_ACT_OK;
    }
  }
  struct flow_tuple t;
  if (iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP) {
    if (flow_tuple_read(skb, iph, &t) < 0) return TC_ACT_OK; /* the stack's to judge */
    struct lb_service_value* svc = lb_lookup_service(t.daddr, t.dport, t.proto);
    if (svc && svc->kind != LB_KIND_CLUSTER_IP) {
      __u32 reason;
      int action = service_forward(skb, &t, svc, &reason);
      if (reason == PETREL_TO_STACK) return action;
      return count(skb, reason, METRIC_DIR_INGRESS, action);
    }
  }
  const int to_node = nat_config.node_ip4 && iph->daddr == nat_config.node_ip4;
  const int udp_to_pod = nat_config.masquerade && iph->protocol == IPPROTO_UDP &&
                         is_local_pod(iph->daddr) && !in_cluster(iph->saddr);
  if (iph->protocol == IPPROTO_ICMP && !(iph->frag_off & bpf_htons(PETREL_IP_FRAGMENT))) {
    __u32 reason;
    int action;
    if ((to_node && (service_icmp_error_from_remote(skb, iph, &action, &reason) ||
                     nat_icmp_error_reverse(skb, iph, &action, &reason))) ||
        service_icmp_error_in(skb, iph, &action, &reason))
      return count(skb, reason, METRIC_DIR_INGRESS, action);
  }
  if (!to_node && !udp_to_pod) {
    /* Native routing: another node's pod to one of this node's goes straight into the pod, as
     * tunnelled traffic does, instead of through the node's forwarding. (In tunnel mode such a
     * packet does not come unencapsulated: the stack judges it.) */
    struct endpoint_info* dst =
        !nat_config.tunnel_port && is_local_pod(iph->daddr) && tunnel_lookup_ip4(iph->saddr)
            ? endpoint_lookup_ip4(iph->daddr)
            : 0;
    if (!dst) return TC_ACT_OK;
    __u32 reason;
    int action = deliver_local_ipv4(eth, iph, dst, &reason);
    return reason == PETREL_TO_STACK ? action : count(skb, reason, METRIC_DIR_INGRESS, action);
  }
  if (flow_tuple_read(skb, iph, &t) < 0) return TC_ACT_OK; /* the stack's to judge */
  if (to_node) return reverse_translate(skb, &t);
  if (nat_remember_inbound_udp(&t) < 0) {
    return count(skb, PETREL_DROP_NAT_MAP_FULL, METRIC_DIR_INGRESS, 0);
  }
  return TC_ACT_OK;
}

SEC("xdp")
int petrel_uplink_xdp(struct xdp_md* ctx) {
  return nodeport_xdp(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
