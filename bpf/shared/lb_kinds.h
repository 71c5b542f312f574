/* Service frontend kinds: the one list. It generates enum lb_kind (bpf/shared/maps.h, the kind in
 * a frontend's master entry), the agent's core::LbKind (agent/core/lb_state.h) and the names both
 * the agent and the CLI print. Values are what the maps hold: never renumber one.
 * X(C name, C++ name, value, printed name). Shared by BPF C and C++; macros only. */
#pragma once

#define PETREL_LB_KINDS(X)                    \
  X(CLUSTER_IP, ClusterIp, 1, "ClusterIP")    \
  X(NODE_PORT, NodePort, 2, "NodePort")       \
  X(EXTERNAL_IP, ExternalIp, 3, "ExternalIP") \
  X(LOAD_BALANCER, LoadBalancer, 4, "LoadBalancer")
