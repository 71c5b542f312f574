// Node objects -> the tunnel routes this node needs: every other node's IPv4 pod CIDRs, reached
// at its InternalIP. A PetrelNode (spec.ipam.podCIDRs, spec.addresses) is the source; a node
// without one falls back to its Node object (spec.podCIDRs, status.addresses), so a cluster whose
// CIDRs come from kube-controller-manager works too.
#pragma once

#include <string>
#include <vector>

#include "agent/core/tunnel_routes.h"
#include "k8s/objects.h"

namespace petrel::core {

TunnelRoutes tunnelRoutes(const std::vector<k8s::PetrelNode>& petrel_nodes,
                          const std::vector<k8s::Node>& nodes, const std::string& self);

}  // namespace petrel::core
