// Services and EndpointSlices -> the frontends this node load-balances (core::LbState), with the
// rules kube-proxy users expect: ClusterIP, NodePort (on every node address), externalIPs and
// LoadBalancer ingress IPs, TCP and UDP; each port's backends from the slices' port of the same
// name (so a named targetPort is resolved per endpoint); ready endpoints, or the serving
// terminating ones when none is ready; internalTrafficPolicy Local for ClusterIPs and
// externalTrafficPolicy Local for the rest keep only this node's endpoints. Headless and
// ExternalName Services and SCTP ports are left alone.
#pragma once

#include <string>
#include <vector>

#include "agent/core/lb_state.h"
#include "agent/k8s/objects.h"

namespace petrel::k8s {

struct LbNode {
  std::string name;
  std::vector<Ipv4Addr> addresses;  // where NodePorts listen
};

core::LbState serviceFrontends(const std::vector<Service>& services,
                               const std::vector<EndpointSlice>& slices, const LbNode& self);

// Whether a Service gets frontends at all (not headless, not ExternalName, with a cluster IP).
bool loadBalanced(const Service& svc);

}  // namespace petrel::k8s
