/* NAT of ICMP errors through masquerading. An error about a packet a pod sent masqueraded comes
 * back to the node's address and port: the pod's flow is found from the quote
 * (bpf/lib/icmp_quote.h), the outer destination and the quoted source are translated back, and
 * the error is delivered into the pod, whose stack then lowers its path MTU or fails the
 * connection as it would without NAT. An error a pod sends about a packet it received leaves
 * as that flow's answers do: translated when the flow is masqueraded, as it is otherwise. */
#pragma once

#include "compiler.h"
#include "icmp_quote.h"
#include "nat.h"

/* Handles an ICMP message to the node's address whose IPv4 header `iph` is valid and not a
 * fragment. Returns 0 when it is not an error about a masqueraded flow (nothing changed), else 1
 * with the tc action in *action and *reason set. */
static __always_inline int nat_icmp_error_reverse(struct __sk_buff* skb, struct iphdr* iph,
                                                  int* action, __u32* reason) {
  struct icmp_quote q;
  if (icmp_quote_read(skb, iph, &q) < 0) return 0;
  if (q.inner.saddr != nat_config.node_ip4) return 0;
  /* The quoted packet went node:port -> remote; an answer to it would be remote -> node:port. */
  struct flow_tuple answer;
  icmp_quote_answer(&q, &answer);
  struct nat_entry* r = nat_lookup(&answer, NAT_DIR_INGRESS);
  if (!r) return 0;
  const __be32 pod = r->to_addr;
  struct endpoint_info* dst = endpoint_lookup_ip4(pod);
  *action = TC_ACT_SHOT;
  *reason = PETREL_DROP_INVALID;
  if (icmp_quote_rewrite(skb, &q, ICMP_QUOTE_SOURCE, pod, r->to_port, offsetof(struct iphdr, daddr),
                         pod) < 0) {
    return 1;
  }
  *reason = PETREL_UNMASQUERADED;
  *action = TC_ACT_OK; /* not a pod here (any more): the stack routes it */
  if (!dst) return 1;
  *action = icmp_quote_deliver(skb, dst, reason);
  if (*reason == PETREL_FORWARDED) *reason = PETREL_UNMASQUERADED;
  return 1;
}

/* An ICMP message a pod sends outside the cluster, whose IPv4 header `iph` is valid and not a
 * fragment. Returns 0 when it is not an error about a TCP/UDP packet (nothing changed), else 1
 * with the tc action in *action and *reason set (PETREL_TO_STACK: passed unchanged). */
static __always_inline int nat_icmp_error_egress(struct __sk_buff* skb, struct iphdr* iph,
                                                 int* action, __u32* reason) {
  struct icmp_quote q;
  if (icmp_quote_read(skb, iph, &q) < 0) return 0;
  /* The quoted packet came remote -> pod; the pod's answers are pod -> remote. */
  struct flow_tuple answer;
  icmp_quote_answer(&q, &answer);
  struct nat_entry* e = nat_lookup(&answer, NAT_DIR_EGRESS);
  *action = TC_ACT_OK;
  *reason = PETREL_TO_STACK;
  if (!e || (e->flags & NAT_F_PASSTHROUGH)) return 1; /* a flow opened from outside */
  const __be32 node = e->to_addr;
  *action = TC_ACT_SHOT;
  *reason = PETREL_DROP_INVALID;
  if (icmp_quote_rewrite(skb, &q, ICMP_QUOTE_DEST, node, e->to_port, offsetof(struct iphdr, saddr),
                         node) < 0) {
    return 1;
  }
  *action = TC_ACT_OK;
  *reason = PETREL_MASQUERADED;
  return 1;
}
