/* ICMP errors about Service connections the packet-level load balancer translated for a backend
 * on this node, translated like the connection's packets (as kube-proxy's conntrack does), so
 * path MTU discovery and errors work through a NodePort, externalIP or LoadBalancer frontend:
 * - from outside (uplink ingress): an error about a backend's answer, which left with the
 *   frontend as its source, is given to the backend pod;
 * - from the backend pod (lxc): an error about a packet it received translated (e.g. "port
 *   unreachable" for UDP) goes to the client as if the frontend had sent it.
 * Connections sent on to a backend on another node (source NAT) are not covered. */
#pragma once

#include "conntrack.h"
#include "fib.h"
#include "icmp_quote.h"

/* An ICMP message from outside whose IPv4 header `iph` is valid and not a fragment. Returns 0
 * when it is not an error about a local backend's answer (nothing changed), else 1 with the tc
 * action in *action and *reason set. */
static __always_inline int service_icmp_error_in(struct __sk_buff* skb, struct iphdr* iph,
                                                 int* action, __u32* reason) {
  struct icmp_quote q;
  if (icmp_quote_read(skb, iph, &q) < 0) return 0;
  /* The quoted answer went frontend -> client; the connection is client -> frontend. */
  struct ct_key key;
  ct_key_of(&key, q.inner.daddr, q.inner.saddr, q.ports[1], q.ports[0], q.inner.protocol,
            CT_DIR_SERVICE);
  struct ct_entry* ct = bpf_map_lookup_elem(&petrel_ct, &key);
  if (!ct || (ct->flags & CT_F_SNAT)) return 0;
  const __be32 backend = ct->addr;
  struct endpoint_info* pod = endpoint_lookup_ip4(backend);
  if (!pod) return 0;
  *action = TC_ACT_SHOT;
  *reason = PETREL_DROP_INVALID;
  if (icmp_quote_rewrite(skb, &q, ICMP_QUOTE_SOURCE, backend, ct->port,
                         offsetof(struct iphdr, daddr), backend) < 0) {
    return 1;
  }
  *action = icmp_quote_deliver(skb, pod, reason);
  if (*reason == PETREL_FORWARDED) *reason = PETREL_LB_ICMP_ERROR;
  return 1;
}

/* An ICMP message from a pod whose IPv4 header `iph` is valid and not a fragment. Returns -1
 * when it is not an error about a packet of a translated connection, else the tc action with
 * *reason set. */
static __always_inline int service_icmp_error_out(struct __sk_buff* skb, const struct iphdr* iph,
                                                  __u32* reason) {
  struct icmp_quote q;
  if (icmp_quote_read(skb, iph, &q) < 0) return -1;
  /* The quoted packet went client -> backend; the backend's answers are backend -> client. */
  struct ct_key key;
  ct_key_of(&key, q.inner.daddr, q.inner.saddr, q.ports[1], q.ports[0], q.inner.protocol,
            CT_DIR_REPLY);
  struct ct_entry* ct = bpf_map_lookup_elem(&petrel_ct, &key);
  if (!ct) return -1;
  const __be32 frontend = ct->addr;
  *reason = PETREL_DROP_INVALID;
  if (icmp_quote_rewrite(skb, &q, ICMP_QUOTE_DEST, frontend, ct->port,
                         offsetof(struct iphdr, saddr), frontend) < 0) {
    return TC_ACT_SHOT;
  }
  int action = redirect_by_fib(skb, reason);
  if (*reason == PETREL_FORWARDED) *reason = PETREL_LB_ICMP_ERROR;
  return action;
}
