/* sock_destroy: socket iterators that destroy this namespace's TCP and UDP sockets connected to
 * one backend (target_ip4/target_port, set before each run; IPv6 sockets connected to its
 * IPv4-mapped address too). The agent runs them in every pod's
 * namespace and the node's when a backend leaves the last Service that used it, so clients get
 * an error (TCP: a reset) at once instead of waiting on a peer that is gone. Uses kernel types
 * from vmlinux.h (CO-RE) and the bpf_sock_destroy kfunc (Linux 6.5+). */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define PETREL_AF_INET_KERNEL 2
#define PETREL_AF_INET6_KERNEL 10

extern int bpf_sock_destroy(struct sock_common* sk) __ksym;

/* Written through the skeleton's .bss before each run. */
__be32 target_ip4 = 0;
__be16 target_port = 0;
__u64 destroyed = 0;

static __always_inline void destroy_if_target(struct sock_common* skc) {
  if (skc->skc_family == PETREL_AF_INET6_KERNEL) {
    /* A dual-stack socket connected to an IPv4 address (::ffff:a.b.c.d) has it in skc_daddr. */
    const __u32* d = skc->skc_v6_daddr.in6_u.u6_addr32;
    if (d[0] != 0 || d[1] != 0 || d[2] != bpf_htonl(0xffff)) return;
  } else if (skc->skc_family != PETREL_AF_INET_KERNEL) {
    return;
  }
  if (skc->skc_daddr != target_ip4 || skc->skc_dport != target_port) return;
  if (bpf_sock_destroy(skc) == 0) __sync_fetch_and_add(&destroyed, 1);
}

SEC("iter/tcp")
int petrel_destroy_tcp(struct bpf_iter__tcp* ctx) {
  struct sock_common* skc = ctx->sk_common;
  if (skc) destroy_if_target(skc);
  return 0;
}

SEC("iter/udp")
int petrel_destroy_udp(struct bpf_iter__udp* ctx) {
  struct udp_sock* udp = ctx->udp_sk;
  if (udp) destroy_if_target((struct sock_common*)udp);
  return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
