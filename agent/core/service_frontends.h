// Services and EndpointSlices -> the frontends this node load-balances (LbState), with the
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
#include "k8s/objects.h"

namespace petrel::core {

struct LbNode {
  std::string name;
  std::vector<Ipv4Addr> addresses;  // where NodePorts listen
};

LbState serviceFrontends(const std::vector<k8s::Service>& services,
                         const std::vector<k8s::EndpointSlice>& slices, const LbNode& self);

// Whether a Service gets frontends at all (not headless, not ExternalName, with a cluster IP).
bool loadBalanced(const k8s::Service& svc);

}  // namespace petrel::core
