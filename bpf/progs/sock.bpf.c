/* sock: socket-level Service load balancing on cgroup v2 hooks. connect() and sendmsg() to a
 * Service frontend are sent to a backend chosen once, at the socket, so the packets carry the
 * backend address from the start (no per-packet NAT); getpeername() and recvmsg() show the
 * frontend again. A frontend without backends is refused with ECONNREFUSED, like kube-proxy's
 * reject rule. Addresses that are not frontends pass untouched. The IPv6 hooks are attached too
 * and pass everything until IPv6 Services exist. */
#include <linux/in.h>

#include "compiler.h"
#include "lb.h"

#define PETREL_ECONNREFUSED 111

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, PETREL_MAX_LB_SOCK_REVNAT);
  __type(key, struct lb_sock_revnat_key);
  __type(value, struct lb_sock_revnat_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_lb_sock_revnat SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct lb_sock_frontend);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} petrel_lb_sock_frontend SEC(".maps");

static __always_inline __u8 sock_proto(struct bpf_sock_addr* ctx) {
  if (ctx->type == 1 /* SOCK_STREAM */) return IPPROTO_TCP;
  if (ctx->type == 2 /* SOCK_DGRAM */) return IPPROTO_UDP;
  return 0;
}

/* Translates ctx's destination if it is a frontend. Returns 1 (go on) or 0 (refuse).
 * `connected`: connect(), whose one peer is kept with the socket; else sendmsg(). */
static __always_inline int translate(struct bpf_sock_addr* ctx, int connected) {
  __u8 proto = sock_proto(ctx);
  if (!proto) return 1;
  __be32 address = ctx->user_ip4;
  __be16 port = (__be16)ctx->user_port;
  struct lb_service_value* svc = lb_lookup_service(address, port, proto);
  if (!svc) return 1;
  if (svc->count == 0) {
    bpf_set_retval(-PETREL_ECONNREFUSED);
    return 0;
  }
  struct lb_backend* b = lb_select_backend(svc, address, port, proto, bpf_get_netns_cookie(ctx));
  if (!b) {
    bpf_set_retval(-PETREL_ECONNREFUSED);
    return 0;
  }
  struct lb_sock_frontend* f =
      connected && ctx->sk
          ? bpf_sk_storage_get(&petrel_lb_sock_frontend, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE)
          : 0;
  if (f) {
    f->backend = b->address;
    f->backend_port = b->port;
    f->address = address;
    f->port = port;
  } else {
    struct lb_sock_revnat_key rkey = {
        .cookie = bpf_get_socket_cookie(ctx), .address = b->address, .port = b->port};
    struct lb_sock_revnat_value rval = {
        .address = address, .port = port, .service_id = svc->service_id};
    bpf_map_update_elem(&petrel_lb_sock_revnat, &rkey, &rval, BPF_ANY);
  }
  ctx->user_ip4 = b->address;
  ctx->user_port = b->port;
  return 1;
}

/* Shows the frontend in place of the backend this socket was sent to. */
static __always_inline void reverse(struct bpf_sock_addr* ctx) {
  struct lb_sock_frontend* f =
      ctx->sk ? bpf_sk_storage_get(&petrel_lb_sock_frontend, ctx->sk, 0, 0) : 0;
  if (f && f->backend == ctx->user_ip4 && f->backend_port == (__be16)ctx->user_port) {
    ctx->user_ip4 = f->address;
    ctx->user_port = f->port;
    return;
  }
  struct lb_sock_revnat_key rkey = {.cookie = bpf_get_socket_cookie(ctx),
                                    .address = ctx->user_ip4,
                                    .port = (__be16)ctx->user_port};
  struct lb_sock_revnat_value* v = bpf_map_lookup_elem(&petrel_lb_sock_revnat, &rkey);
  if (!v) return;
  ctx->user_ip4 = v->address;
  ctx->user_port = v->port;
}

SEC("cgroup/connect4")
int petrel_sock_connect4(struct bpf_sock_addr* ctx) {
  return translate(ctx, 1);
}

SEC("cgroup/sendmsg4")
int petrel_sock_sendmsg4(struct bpf_sock_addr* ctx) {
  return translate(ctx, 0);
}

SEC("cgroup/recvmsg4")
int petrel_sock_recvmsg4(struct bpf_sock_addr* ctx) {
  reverse(ctx);
  return 1;
}

SEC("cgroup/getpeername4")
int petrel_sock_getpeername4(struct bpf_sock_addr* ctx) {
  reverse(ctx);
  return 1;
}

SEC("cgroup/connect6")
int petrel_sock_connect6(struct bpf_sock_addr* ctx) {
  return 1;
}

SEC("cgroup/sendmsg6")
int petrel_sock_sendmsg6(struct bpf_sock_addr* ctx) {
  return 1;
}

SEC("cgroup/recvmsg6")
int petrel_sock_recvmsg6(struct bpf_sock_addr* ctx) {
  return 1;
}

SEC("cgroup/getpeername6")
int petrel_sock_getpeername6(struct bpf_sock_addr* ctx) {
  return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
