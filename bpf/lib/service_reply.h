/* The reverse half of packet-level Service translation: a backend's answer goes back to the
 * client with the frontend's address as its source. Used where answers leave a backend: the
 * lxc program (a backend pod on this node) and the uplink (after the source NAT toward a backend
 * on another node is undone). */
#pragma once

#include "conntrack.h"
#include "fib.h"
#include "flow.h"

/* A backend's answer to a translated connection (the tuple backend -> client): the source
 * becomes the frontend again and the packet is forwarded by the FIB. Returns -1 when `t` is not
 * such an answer, else the tc action with *reason set. */
static __always_inline int service_reply(struct __sk_buff* skb, const struct flow_tuple* t,
                                         __u32* reason) {
  struct ct_entry* ct = ct_lookup_reply(t);
  if (!ct) return -1;
  ct_touch(ct, t, CT_F_REPLIED);
  __be32 frontend = ct->addr;
  __be16 frontend_port = ct->port;
  *reason = PETREL_DROP_INVALID;
  if (flow_rewrite(skb, t, 1, frontend, frontend_port) < 0) return TC_ACT_SHOT;
  int action = redirect_by_fib(skb, reason);
  if (*reason == PETREL_FORWARDED) *reason = PETREL_LB_REPLIED;
  return action;
}
