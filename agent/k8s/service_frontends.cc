// Deriving LbState from Services and EndpointSlices.
#include "agent/k8s/service_frontends.h"

#include <algorithm>
#include <map>

namespace petrel::k8s {

namespace {

uint8_t protoOf(const std::string& protocol) {
  if (protocol.empty() || protocol == "TCP") return core::kProtoTcp;
  if (protocol == "UDP") return core::kProtoUdp;
  return 0;  // SCTP: not load-balanced
}

// The backends of one Service port: every endpoint address of the Service's slices that carry a
// port of that name and protocol. Ready ones; else the serving terminating ones.
std::vector<core::LbBackend> backendsFor(const std::vector<const EndpointSlice*>& slices,
                                         const ServicePort& port, bool local_only,
                                         const std::string& self) {
  std::vector<core::LbBackend> ready, terminating;
  for (const EndpointSlice* slice : slices) {
    if (slice->address_type != "IPv4") continue;
    uint16_t target = 0;
    for (const auto& p : slice->ports) {
      if (p.name == port.name && protoOf(p.protocol) == protoOf(port.protocol)) target = p.port;
    }
    if (target == 0) continue;
    for (const auto& ep : slice->endpoints) {
      if (local_only && ep.node_name != self) continue;
      for (const auto& ip : ep.addresses) {
        core::LbBackend b{ip, target, false, ep.node_name, ep.pod_name};
        if (ep.ready && !ep.terminating) {
          ready.push_back(b);
        } else if (ep.serving && ep.terminating) {
          b.terminating = true;
          terminating.push_back(b);
        }
      }
    }
  }
  auto& chosen = ready.empty() ? terminating : ready;
  auto by_address = [](const core::LbBackend& a, const core::LbBackend& b) {
    return std::tie(a.ip, a.port) < std::tie(b.ip, b.port);
  };
  std::sort(chosen.begin(), chosen.end(), by_address);
  chosen.erase(
      std::unique(chosen.begin(), chosen.end(),
                  [](const auto& a, const auto& b) { return a.ip == b.ip && a.port == b.port; }),
      chosen.end());
  return chosen;
}

}  // namespace

core::LbState serviceFrontends(const std::vector<Service>& services,
                               const std::vector<EndpointSlice>& slices, const LbNode& self) {
  std::map<std::string, std::vector<const EndpointSlice*>> slices_by_service;
  for (const auto& s : slices) {
    if (s.service_name.empty()) continue;
    slices_by_service[s.meta.namespace_ + "/" + s.service_name].push_back(&s);
  }
  core::LbState state;
  for (const auto& svc : services) {
    if (svc.headless || svc.type == "ExternalName" || svc.cluster_ips.empty()) continue;
    const std::string key = svc.meta.key();
    const auto& svc_slices = slices_by_service[key];
    for (const auto& port : svc.ports) {
      const uint8_t proto = protoOf(port.protocol);
      if (!proto) continue;
      core::LbService base;
      base.service = key;
      base.port_name = port.name;
      base.affinity = svc.session_affinity_client_ip;
      base.affinity_timeout = svc.session_affinity_timeout;
      base.external_local = svc.external_traffic_local;
      base.internal_local = svc.internal_traffic_local;
      // Backends are computed at most twice per port: cluster-wide and node-local.
      std::vector<core::LbBackend> internal =
          backendsFor(svc_slices, port, svc.internal_traffic_local, self.name);
      std::vector<core::LbBackend> external =
          svc.external_traffic_local == svc.internal_traffic_local
              ? internal
              : backendsFor(svc_slices, port, svc.external_traffic_local, self.name);
      auto add = [&](Ipv4Addr ip, uint16_t fport, core::LbKind kind) {
        core::LbService entry = base;
        entry.kind = kind;
        entry.backends = kind == core::LbKind::kClusterIp ? internal : external;
        state[core::LbFrontend{ip, fport, proto}] = std::move(entry);
      };
      for (const auto& ip : svc.cluster_ips) add(ip, port.port, core::LbKind::kClusterIp);
      for (const auto& ip : svc.external_ips) add(ip, port.port, core::LbKind::kExternalIp);
      for (const auto& ip : svc.load_balancer_ips) add(ip, port.port, core::LbKind::kLoadBalancer);
      const bool has_node_port = svc.type == "NodePort" || svc.type == "LoadBalancer";
      if (has_node_port && port.node_port != 0) {
        for (const auto& ip : self.addresses) add(ip, port.node_port, core::LbKind::kNodePort);
      }
    }
  }
  return state;
}

}  // namespace petrel::k8s
