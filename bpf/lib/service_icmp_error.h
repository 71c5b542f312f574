/* ICMP errors about Service connections the packet-level load balancer translated, translated
 * like the connection's packets (as kube-proxy's conntrack does), so path MTU discovery and
 * errors work through a NodePort, externalIP or LoadBalancer frontend:
 * - from outside (uplink ingress): an error about a backend's answer, which left with the
 *   frontend as its source, is given to the backend (a pod here, or one on another node behind
 *   the node's source NAT);
 * - from the backend (lxc for a pod here; uplink ingress for one on another node, whose errors
 *   come to the node's address): an error about a packet it received (e.g. "port unreachable"
 *   for UDP) goes to the client as if the frontend had sent it. */
#pragma once

#include "conntrack.h"
#include "fib.h"
#include "icmp_quote.h"
#include "nat.h"

/* An ICMP message from outside whose IPv4 header `iph` is valid and not a fragment. Returns 0
 * when it is not an error about a backend's answer (nothing changed), else 1 with the tc action
 * in *action and *reason set. */
static __always_inline int service_icmp_error_in(struct __sk_buff* skb, struct iphdr* iph,
                                                 int* action, __u32* reason) {
  struct icmp_quote q;
  if (icmp_quote_read(skb, iph, &q) < 0) return 0;
  /* The quoted answer went frontend -> client; the connection is client -> frontend. */
  struct flow_tuple conn;
  icmp_quote_answer(&q, &conn);
  struct ct_entry* ct = ct_lookup(&conn, CT_DIR_SERVICE);
  if (!ct) return 0;
  const __be32 backend = ct->addr;
  const __be16 backend_port = ct->port;
  if (ct->flags & CT_F_SNAT) {
    /* The backend sent its answer to the node's address and port: the quote's other end. */
    conn.daddr = backend;
    conn.dport = backend_port;
    struct nat_entry* e = nat_lookup(&conn, NAT_DIR_EGRESS);
    if (!e) return 0;
    const __be32 node = e->to_addr;
    const __be16 node_port = e->to_port;
    *action = TC_ACT_SHOT;
    *reason = PETREL_DROP_INVALID;
    if (icmp_quote_rewrite(skb, &q, ICMP_QUOTE_SOURCE, backend, backend_port,
                           offsetof(struct iphdr, daddr), backend) < 0 ||
        icmp_quote_rewrite(skb, &q, ICMP_QUOTE_DEST, node, node_port, offsetof(struct iphdr, daddr),
                           backend) < 0) {
      return 1;
    }
    *action = redirect_by_fib(skb, reason);
  } else {
    struct endpoint_info* pod = endpoint_lookup_ip4(backend);
    if (!pod) return 0;
    *action = TC_ACT_SHOT;
    *reason = PETREL_DROP_INVALID;
    if (icmp_quote_rewrite(skb, &q, ICMP_QUOTE_SOURCE, backend, backend_port,
                           offsetof(struct iphdr, daddr), backend) < 0) {
      return 1;
    }
    *action = icmp_quote_deliver(skb, pod, reason);
  }
  if (*reason == PETREL_FORWARDED) *reason = PETREL_LB_ICMP_ERROR;
  return 1;
}

/* An ICMP message to the node's address whose IPv4 header `iph` is valid and not a fragment,
 * from a backend on another node: an error about a packet the node sent it for a client
 * (quoting node:port -> backend). Returns 0 when it is not (nothing changed), else 1 with the tc
 * action in *action and *reason set. */
static __always_inline int service_icmp_error_from_remote(struct __sk_buff* skb, struct iphdr* iph,
                                                          int* action, __u32* reason) {
  struct icmp_quote q;
  if (icmp_quote_read(skb, iph, &q) < 0) return 0;
  /* The client behind the node's port, as the backend's answers are translated back. */
  struct flow_tuple answer;
  icmp_quote_answer(&q, &answer);
  struct nat_entry* r = nat_lookup(&answer, NAT_DIR_INGRESS);
  if (!r) return 0;
  const __be32 client = r->to_addr;
  const __be16 client_port = r->to_port;
  answer.daddr = client;
  answer.dport = client_port;
  struct ct_entry* ct = ct_lookup_reply(&answer);
  if (!ct) return 0; /* a masqueraded flow's: nat_icmp_error_reverse() */
  const __be32 frontend = ct->addr;
  const __be16 frontend_port = ct->port;
  *action = TC_ACT_SHOT;
  *reason = PETREL_DROP_INVALID;
  if (icmp_quote_rewrite(skb, &q, ICMP_QUOTE_SOURCE, client, client_port,
                         offsetof(struct iphdr, daddr), client) < 0 ||
      icmp_quote_rewrite(skb, &q, ICMP_QUOTE_DEST, frontend, frontend_port,
                         offsetof(struct iphdr, saddr), frontend) < 0) {
    return 1;
  }
  *action = redirect_by_fib(skb, reason);
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
  struct flow_tuple answer;
  icmp_quote_answer(&q, &answer);
  struct ct_entry* ct = ct_lookup_reply(&answer);
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
