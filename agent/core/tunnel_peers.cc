// Tunnel route translation.
#include "agent/core/tunnel_peers.h"

#include <set>

#include <spdlog/spdlog.h>

namespace petrel::core {

TunnelRoutes tunnelRoutes(const std::vector<k8s::PetrelNode>& petrel_nodes,
                          const std::vector<k8s::Node>& nodes, const std::string& self) {
  TunnelRoutes out;
  std::set<std::string> covered;
  auto add = [&](const std::string& node, const Ipv4Cidr& cidr, Ipv4Addr ip) {
    auto [it, inserted] = out.emplace(cidr, TunnelRoute{ip, node});
    if (!inserted && it->second.node != node) {
      // Two nodes claim one CIDR: keep the first by name (deterministic), say so.
      spdlog::warn("pod CIDR {} is claimed by nodes {} and {}; routing it to {}", cidr.toString(),
                   it->second.node, node, it->second.node);
    }
  };
  for (const auto& pn : petrel_nodes) {
    covered.insert(pn.meta.name);
    if (pn.meta.name == self || pn.internal_ips.empty()) continue;
    for (const auto& cidr : pn.pod_cidrs) add(pn.meta.name, cidr, pn.internal_ips.front());
  }
  for (const auto& n : nodes) {
    if (covered.count(n.meta.name) || n.meta.name == self || n.internal_ips.empty()) continue;
    for (const auto& text : n.pod_cidrs) {
      if (auto cidr = Ipv4Cidr::parse(text)) add(n.meta.name, *cidr, n.internal_ips.front());
    }
  }
  return out;
}

}  // namespace petrel::core
