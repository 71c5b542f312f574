/* Map keys and values shared by BPF C and C++: fixed-width types, explicit padding, every key
 * zeroed before it is filled (padding is hashed). A test checks these layouts against the BTF of
 * the built objects. Keys are family-aware so IPv6 is an addition, not a redesign. */
#pragma once

#include <linux/types.h>

#include "lb_kinds.h"

#define PETREL_AF_INET 4
#define PETREL_AF_INET6 6

#define PETREL_MAX_ENDPOINTS 65536

/* Pin names (under the agent's bpffs root). */
#define PETREL_MAP_ENDPOINTS "petrel_endpoints"
#define PETREL_MAP_METRICS "petrel_metrics"
#define PETREL_MAP_TUNNEL "petrel_tunnel"
#define PETREL_MAP_NAT "petrel_nat"

#define PETREL_MAX_TUNNEL_PREFIXES 16384
#define PETREL_MAX_NAT_ENTRIES 131072

/* petrel_endpoints: pod IP -> local endpoint. */
struct endpoint_key {
  union {
    __be32 ip4;
    __u8 ip6[16];
  };
  __u8 family; /* PETREL_AF_INET or PETREL_AF_INET6 */
  __u8 pad[3];
};

#define ENDPOINT_F_HOST 0x1 /* reserved: the node itself */

struct endpoint_info {
  __u32 ifindex;     /* host-side veth */
  __u32 endpoint_id; /* agent-assigned, stable for the endpoint's life */
  __u32 identity;    /* security identity (0 until policy lands) */
  __u32 flags;       /* ENDPOINT_F_* */
  __u8 pod_mac[6];   /* MAC of the pod's interface */
  __u8 host_mac[6];  /* MAC of the host-side veth (the pod's gateway MAC) */
};

/* petrel_metrics: per-CPU array indexed by reason * METRIC_DIR_MAX + direction. */
enum metric_dir {
  METRIC_DIR_EGRESS = 0,  /* leaving a pod */
  METRIC_DIR_INGRESS = 1, /* entering a pod */
  METRIC_DIR_MAX = 2,
};

struct metric_value {
  __u64 packets;
  __u64 bytes;
};

#define PETREL_METRICS_ENTRIES (256 * METRIC_DIR_MAX)

/* petrel_tunnel: LPM trie, remote pod CIDR -> the node that holds it. The match covers family
 * and pad too, so prefixlen = 32 + the CIDR's prefix length. */
struct tunnel_key {
  __u32 prefixlen;
  __u8 family; /* PETREL_AF_INET or PETREL_AF_INET6 */
  __u8 pad[3];
  union {
    __be32 ip4;
    __u8 ip6[16];
  };
};

#define TUNNEL_KEY_PREFIX_BITS 32 /* family + pad, matched exactly */

struct tunnel_info {
  union {
    __be32 ip4; /* the remote node's underlay address */
    __u8 ip6[16];
  };
  __u8 family;
  __u8 pad[3];
};

/* Security identities (tunnelled packets carry the source's as their VXLAN-GBP group policy id,
 * or as the VNI with --vxlan-mode collect-md, so identities that cross nodes fit 16 bits). */
#define PETREL_IDENTITY_UNKNOWN 0
#define PETREL_IDENTITY_HOST 1        /* this node */
#define PETREL_IDENTITY_WORLD 2       /* outside the cluster, no CIDR a policy names */
#define PETREL_IDENTITY_UNMANAGED 3   /* a pod Petrel does not manage (hostNetwork) */
#define PETREL_IDENTITY_HEALTH 4      /* Petrel's own health endpoints */
#define PETREL_IDENTITY_REMOTE_NODE 6 /* another node of the cluster */
/* Pods' identities, allocated cluster-wide through PetrelIdentity objects: 16 bits. */
#define PETREL_IDENTITY_CLUSTER_MIN 256
#define PETREL_IDENTITY_CLUSTER_MAX 65535

/* The overlay's one VNI, on every classic device and in what the XDP NodePort path wraps (a
 * collect_md device reads it as the host identity). */
#define PETREL_OVERLAY_VNI 1
#define PETREL_VNI_MASK 0xffffff

/* The key of both flow tables, petrel_nat and petrel_ct: one direction of a flow as its packets
 * carry it (addresses and ports in network order; for ICMP echo the identifier stands in for the
 * port: sport of a request, dport of a reply), and which of the flow's entries it is. Built by
 * flow_key_of() in BPF (bpf/lib/flow.h) and makeFlowKey() in C++ (agent/datapath/flow_key.h). */
struct flow_key {
  __be32 saddr;
  __be32 daddr;
  __be16 sport;
  __be16 dport;
  __u8 proto;
  __u8 dir; /* petrel_nat: enum nat_dir; petrel_ct: enum ct_dir */
  __u8 family;
  __u8 pad;
};

/* petrel_nat: LRU hash of masqueraded flows (pod traffic leaving the cluster gets the node's
 * address). Each flow has two entries: NAT_DIR_EGRESS keyed by the pod's original tuple, and
 * NAT_DIR_INGRESS keyed by the reply tuple (remote -> node address : allocated port). A flow that
 * came in from outside to a pod gets one NAT_DIR_EGRESS entry with NAT_F_PASSTHROUGH so the
 * pod's replies are left alone. For ICMP echo the identifier stands in for the port: sport of a
 * request, dport of a reply. */
enum nat_dir {
  NAT_DIR_EGRESS = 0,
  NAT_DIR_INGRESS = 1,
};

#define NAT_F_CLOSING 0x1     /* TCP FIN or RST seen: the short timeout applies */
#define NAT_F_PASSTHROUGH 0x2 /* a flow opened from outside: not translated */

struct nat_entry {
  __be32 to_addr; /* egress: the node address; ingress: the pod address */
  __be16 to_port; /* egress: the allocated port; ingress: the pod's port */
  __u8 flags;     /* NAT_F_* */
  __u8 pad;
  __u64 last_seen_ns; /* bpf_ktime_get_ns() of the last packet, refreshed at most once a second */
};

/* The masquerade settings, written by the agent into the uplink object's .bss once it knows its
 * pod CIDR and node address. */
struct nat_config {
  __be32 node_ip4;  /* the address pods are masqueraded to */
  __be32 pod_net4;  /* this node's pod CIDR: network ... */
  __be32 pod_mask4; /* ... and mask, both in network order */
  __u16 port_min;   /* allocated ports, host order, inclusive */
  __u16 port_max;
  __u32 masquerade;   /* pods' traffic to the outside (Service SNAT replies are handled anyway) */
  __be16 tunnel_port; /* the overlay's UDP port in tunnel mode (its packets pass at once), or 0 */
  __u16 pad;
  __u64 tcp_timeout_ns;     /* idle TCP flow */
  __u64 closing_timeout_ns; /* TCP flow after FIN/RST */
  __u64 udp_timeout_ns;     /* idle UDP or ICMP flow */
};

/* Service load balancing. A frontend (address, port, protocol) has a master entry (slot 0:
 * how many backends new connections choose among, and the service's settings) and one entry per
 * slot 1..count naming a backend by id. Changing one backend rewrites one slot; a new backend set
 * is written slots first, master last, so a reader never sees a count beyond the slots. */
#define PETREL_MAP_LB_SERVICES "petrel_lb_services"
#define PETREL_MAP_LB_BACKENDS "petrel_lb_backends"
#define PETREL_MAP_LB_AFFINITY "petrel_lb_affinity"
#define PETREL_MAP_LB_SOCK_REVNAT "petrel_lb_sock_revnat"

#define PETREL_MAX_LB_SERVICE_ENTRIES 524288
#define PETREL_MAX_LB_BACKENDS 262144
#define PETREL_MAX_LB_AFFINITY 131072
#define PETREL_MAX_LB_SOCK_REVNAT 262144

enum lb_kind {
#define PETREL_LB_KIND_ENUM(name, cxx_name, value, text) LB_KIND_##name = value,
  PETREL_LB_KINDS(PETREL_LB_KIND_ENUM)
#undef PETREL_LB_KIND_ENUM
};

struct lb_service_key {
  __be32 address;
  __be16 port;
  __u16 slot; /* 0: the master entry */
  __u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
  __u8 pad[3];
};

#define LB_SVC_F_AFFINITY 0x1         /* sessionAffinity: ClientIP */
#define LB_SVC_F_EXTERNAL_LOCAL 0x2   /* externalTrafficPolicy: Local */
#define LB_SVC_F_INTERNAL_LOCAL 0x4   /* internalTrafficPolicy: Local */
#define LB_SVC_F_TERMINATING_ONLY 0x8 /* every backend is terminating (serving, none ready) */
/* Traffic policy Local, no endpoint on this node but some on others: new connections are
 * dropped, not rejected (as kube-proxy does), so a retry may reach another node. */
#define LB_SVC_F_REMOTE_ONLY 0x10

/* The master entry (slot 0) describes the frontend; slots 1..count each name a backend, with
 * its address and port copied in, so choosing one at random takes no second lookup. */
struct lb_service_value {
  __u32 backend_id; /* slots: the backend */
  __u16 count;      /* master: backends new connections choose among; 0: reject */
  __u16 service_id; /* master: the Service port's id (affinity, reverse NAT) */
  union {
    __u32 affinity_timeout; /* master: seconds */
    __be32 backend_address; /* slots: the backend's address (never 0) */
  };
  __u8 flags;          /* master: LB_SVC_F_* */
  __u8 kind;           /* master: enum lb_kind */
  __be16 backend_port; /* slots: the backend's port */
};

#define LB_BACKEND_F_TERMINATING 0x1

/* petrel_lb_backends: backend id -> address. */
struct lb_backend {
  __be32 address;
  __be16 port;
  __u8 proto;
  __u8 flags; /* LB_BACKEND_F_* */
};

/* petrel_lb_affinity (LRU): a client's backend per Service for sessionAffinity ClientIP. The
 * socket layer knows a client by its network namespace cookie (one per pod, one for the node). */
struct lb_affinity_key {
  __u64 client;
  __u16 service_id;
  __u8 pad[6];
};

struct lb_affinity_value {
  __u64 last_used_ns;
  __u32 backend_id;
  __u32 pad;
};

/* petrel_lb_sock_revnat (LRU): per socket, backend -> the frontend the application asked for,
 * so getpeername() and recvmsg() show the Service address; for unconnected UDP sockets (one
 * socket, many peers) and connected ones whose petrel_lb_sock_frontend slot is taken. */
struct lb_sock_revnat_key {
  __u64 cookie;
  __be32 address;
  __be16 port;
  __u16 pad;
};

struct lb_sock_revnat_value {
  __be32 address;
  __be16 port;
  __u16 service_id;
};

/* petrel_lb_sock_frontend (array): for a connect()ed socket, the backend it was sent to and the
 * frontend the application asked for, in the slot its socket cookie names (cookie modulo the
 * size; cookies are handed out in sequence, so the slots written one after another share cache
 * lines). The cgroup's sock_release hook frees the slot; a socket whose slot is taken by a live
 * one uses the LRU map instead. Cheaper than socket-local storage (which allocates) or a hash
 * map (a cache miss in a large bucket array): about 20 ns against 300-400 ns per connect. */
#define PETREL_MAP_LB_SOCK_FRONTEND "petrel_lb_sock_frontend"
#define PETREL_LB_SOCK_FRONTEND_SLOTS 262144 /* a power of two */

struct lb_sock_frontend {
  __u64 cookie; /* the socket's cookie; 0: free */
  __be32 backend;
  __be16 backend_port;
  __be16 port;
  __be32 address;
  __u32 pad;
};

/* petrel_ct (LRU): Service connections the packet-level load balancer translated (traffic from
 * outside to a NodePort, externalIP or LoadBalancer address). CT_DIR_SERVICE is keyed by the
 * client's tuple toward the frontend and names the backend chosen once for the connection;
 * CT_DIR_REPLY is keyed by the backend's tuple toward the client and names the frontend to show.
 * The backend's address is kept in the entry, so an established connection keeps flowing to it
 * while its endpoint terminates, whatever the Service's backends become. */
#define PETREL_MAP_CT "petrel_ct"
#define PETREL_MAX_CT_ENTRIES 262144

enum ct_dir {
  CT_DIR_SERVICE = 0,
  CT_DIR_REPLY = 1,
};

#define CT_F_CLOSING 0x1 /* TCP FIN or RST seen */
#define CT_F_REPLIED 0x2 /* the backend has answered */
#define CT_F_SNAT 0x4    /* the backend is on another node: the node address stands in */

struct ct_entry {
  __be32 addr; /* service: the backend; reply: the frontend */
  __be16 port;
  __u16 service_id;
  __be16 nat_port; /* service, CT_F_SNAT: the node's source port toward the backend (0: unknown) */
  __u16 hop_len;   /* the largest IP packet the cached next hop was checked for (0: none) */
  __u8 flags;      /* CT_F_* */
  __u8 pad[3];
  /* The XDP fast path's cache of the FIB's answer for this direction, refreshed every second. */
  __u8 hop_smac[6];
  __u8 hop_dmac[6];
  __be32 hop_tunnel; /* tunnel mode: the node the next hop leads to through VXLAN (0: none) */
  __u64 last_seen_ns;
  __u64 hop_ns; /* when the next hop was looked up */
};

/* petrel_lb_maglev: frontend (its master key, slot 0) -> that frontend's Maglev table, an array
 * of backend ids whose size (a prime, the agent's --maglev-table-size) the uplink object is told
 * in its .bss. Only frontends reached from outside (NodePort, externalIPs, LoadBalancer) have
 * one: there every node must pick the same backend for a connection. */
#define PETREL_MAP_LB_MAGLEV "petrel_lb_maglev"
#define PETREL_MAX_LB_MAGLEV 65536
