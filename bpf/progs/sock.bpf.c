/* sock: socket-level Service load balancing on cgroup v2 hooks. connect() and sendmsg() to a
 * Service frontend are sent to a backend chosen once, at the socket, so the packets carry the
 * backend address from the start (no per-packet NAT); getpeername() and recvmsg() show the
 * frontend again (kept per socket in an array slot that the sock_release hook frees). A frontend
 * without backends is refused with ECONNREFUSED, like kube-proxy's reject rule; a socket whose
 * frontend cannot be kept (the LRU map full with nothing to evict) with ENOBUFS, counted as
 * sock-revnat-map-full. Addresses that
 * are not frontends pass untouched. The IPv6 hooks do the same for IPv4-mapped addresses
 * (::ffff:a.b.c.d), which is how dual-stack IPv6 sockets (Java's, for one) reach IPv4 Services;
 * other IPv6 addresses pass until IPv6 Services exist. */
#include <linux/in.h>

#include "compiler.h"
#include "lb.h"
#include "metrics.h"

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, PETREL_MAX_LB_SOCK_REVNAT);
  __type(key, struct lb_sock_revnat_key);
  __type(value, struct lb_sock_revnat_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_lb_sock_revnat SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, PETREL_LB_SOCK_FRONTEND_SLOTS);
  __type(key, __u32);
  __type(value, struct lb_sock_frontend);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_lb_sock_frontend SEC(".maps");

/* The petrel_lb_sock_frontend slot of the socket with this cookie (NULL only if the map is
 * smaller than the verifier can see). */
static __always_inline struct lb_sock_frontend* sock_frontend_slot(__u64 cookie) {
  __u32 index = (__u32)cookie & (PETREL_LB_SOCK_FRONTEND_SLOTS - 1);
  return bpf_map_lookup_elem(&petrel_lb_sock_frontend, &index);
}

/* Keeps the frontend of a connect()ed socket in its slot. Returns 0, or -1 when a live socket
 * holds the slot. */
static __always_inline int sock_frontend_store(__u64 cookie, __be32 backend, __be16 backend_port,
                                               __be32 address, __be16 port) {
  struct lb_sock_frontend* f = sock_frontend_slot(cookie);
  if (!f) return -1;
  __u64 holder = __sync_val_compare_and_swap(&f->cookie, 0, cookie);
  if (holder != 0 && holder != cookie) return -1;
  f->backend = backend;
  f->backend_port = backend_port;
  f->address = address;
  f->port = port;
  return 0;
}

/* The IPv4 address in ctx: user_ip4, or on an IPv6 hook (`v6`) the IPv4-mapped user_ip6.
 * Returns 0, or -1 for an IPv6 address that is not IPv4-mapped. */
static __always_inline int sock_ip4(const struct bpf_sock_addr* ctx, int v6, __be32* ip) {
  if (!v6) {
    *ip = ctx->user_ip4;
    return 0;
  }
  if (ctx->user_ip6[0] != 0 || ctx->user_ip6[1] != 0 || ctx->user_ip6[2] != bpf_htonl(0xffff))
    return -1;
  *ip = ctx->user_ip6[3];
  return 0;
}

static __always_inline void sock_set_ip4(struct bpf_sock_addr* ctx, int v6, __be32 ip) {
  if (v6)
    ctx->user_ip6[3] = ip;
  else
    ctx->user_ip4 = ip;
}

static __always_inline __u8 sock_proto(struct bpf_sock_addr* ctx) {
  if (ctx->type == 1 /* SOCK_STREAM */) return IPPROTO_TCP;
  if (ctx->type == 2 /* SOCK_DGRAM */) return IPPROTO_UDP;
  return 0;
}

/* Translates ctx's destination if it is a frontend. Returns 1 (go on) or 0 (refuse).
 * `connected`: connect(), whose one peer is kept with the socket; else sendmsg(). `v6`: an IPv6
 * hook. */
static __always_inline int translate(struct bpf_sock_addr* ctx, int connected, int v6) {
  __u8 proto = sock_proto(ctx);
  if (!proto) return 1;
  __be32 address;
  if (sock_ip4(ctx, v6, &address) < 0) return 1;
  __be16 port = (__be16)ctx->user_port;
  struct lb_service_value* svc = lb_lookup_service(address, port, proto);
  if (!svc) return 1;
  if (svc->count == 0) {
    bpf_set_retval(-ECONNREFUSED);
    return 0;
  }
  struct lb_backend b;
  __u64 client = (svc->flags & LB_SVC_F_AFFINITY) ? bpf_get_netns_cookie(ctx) : 0;
  if (lb_select_backend(svc, address, port, proto, client, METRIC_DIR_EGRESS, &b) < 0) {
    bpf_set_retval(-ECONNREFUSED);
    return 0;
  }
  __u64 cookie = bpf_get_socket_cookie(ctx);
  if (!connected || sock_frontend_store(cookie, b.address, b.port, address, port) < 0) {
    struct lb_sock_revnat_key rkey = {.cookie = cookie, .address = b.address, .port = b.port};
    struct lb_sock_revnat_value rval = {
        .address = address, .port = port, .service_id = svc->service_id};
    /* Without the entry recvmsg() and getpeername() would show the backend, and a client
     * checking who answered (a DNS resolver does) would wait for nothing: refuse instead. */
    if (bpf_map_update_elem(&petrel_lb_sock_revnat, &rkey, &rval, BPF_ANY) != 0) {
      metrics_count(PETREL_DROP_SOCK_REVNAT_MAP_FULL, METRIC_DIR_EGRESS, 0);
      bpf_set_retval(-ENOBUFS);
      return 0;
    }
  }
  sock_set_ip4(ctx, v6, b.address);
  ctx->user_port = b.port;
  return 1;
}

/* Shows the frontend in place of the backend this socket was sent to. */
static __always_inline void reverse(struct bpf_sock_addr* ctx, int v6) {
  __be32 backend;
  if (sock_ip4(ctx, v6, &backend) < 0) return;
  __u64 cookie = bpf_get_socket_cookie(ctx);
  struct lb_sock_frontend* f = sock_frontend_slot(cookie);
  if (f && f->cookie == cookie && f->backend == backend &&
      f->backend_port == (__be16)ctx->user_port) {
    sock_set_ip4(ctx, v6, f->address);
    ctx->user_port = f->port;
    return;
  }
  struct lb_sock_revnat_key rkey = {
      .cookie = cookie, .address = backend, .port = (__be16)ctx->user_port};
  struct lb_sock_revnat_value* v = bpf_map_lookup_elem(&petrel_lb_sock_revnat, &rkey);
  if (!v) return;
  sock_set_ip4(ctx, v6, v->address);
  ctx->user_port = v->port;
}

SEC("cgroup/connect4")
int petrel_sock_connect4(struct bpf_sock_addr* ctx) {
  return translate(ctx, 1, 0);
}

SEC("cgroup/sendmsg4")
int petrel_sock_sendmsg4(struct bpf_sock_addr* ctx) {
  return translate(ctx, 0, 0);
}

SEC("cgroup/recvmsg4")
int petrel_sock_recvmsg4(struct bpf_sock_addr* ctx) {
  reverse(ctx, 0);
  return 1;
}

SEC("cgroup/getpeername4")
int petrel_sock_getpeername4(struct bpf_sock_addr* ctx) {
  reverse(ctx, 0);
  return 1;
}

/* Frees the closing socket's petrel_lb_sock_frontend slot. */
SEC("cgroup/sock_release")
int petrel_sock_release(struct bpf_sock* sk) {
  __u64 cookie = bpf_get_socket_cookie(sk);
  struct lb_sock_frontend* f = sock_frontend_slot(cookie);
  if (f && f->cookie == cookie) f->cookie = 0; /* only its holder frees a slot */
  return 1;
}

SEC("cgroup/connect6")
int petrel_sock_connect6(struct bpf_sock_addr* ctx) {
  return translate(ctx, 1, 1);
}

SEC("cgroup/sendmsg6")
int petrel_sock_sendmsg6(struct bpf_sock_addr* ctx) {
  return translate(ctx, 0, 1);
}

SEC("cgroup/recvmsg6")
int petrel_sock_recvmsg6(struct bpf_sock_addr* ctx) {
  reverse(ctx, 1);
  return 1;
}

SEC("cgroup/getpeername6")
int petrel_sock_getpeername6(struct bpf_sock_addr* ctx) {
  reverse(ctx, 1);
  return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
