// Deriving LbState from Services and EndpointSlices.
#include "agent/core/service_frontends.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace petrel::core {

namespace {

// A Service by namespace and name, pointing into the objects (no copy).
struct ServiceRef {
  std::string_view namespace_;
  std::string_view name;
  bool operator==(const ServiceRef&) const = default;
};
struct ServiceRefHash {
  size_t operator()(const ServiceRef& r) const {
    const size_t h = std::hash<std::string_view>{}(r.namespace_);
    return h ^
           (std::hash<std::string_view>{}(r.name) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
  }
};

uint8_t protoOf(const std::string& protocol) {
  if (protocol.empty() || protocol == "TCP") return kProtoTcp;
  if (protocol == "UDP") return kProtoUdp;
  return 0;  // SCTP: not load-balanced
}

// The backends of one Service port: every endpoint address of the Service's slices that carry a
// port of that name and protocol. Ready ones; else the serving terminating ones.
std::vector<LbBackend> backendsFor(const std::vector<const k8s::EndpointSlice*>& slices,
                                   const k8s::ServicePort& port, bool local_only,
                                   const std::string& self) {
  std::vector<LbBackend> ready, terminating;
  for (const k8s::EndpointSlice* slice : slices) {
    if (slice->address_type != "IPv4") continue;
    uint16_t target = 0;
    for (const auto& p : slice->ports) {
      if (p.name == port.name && protoOf(p.protocol) == protoOf(port.protocol)) target = p.port;
    }
    if (target == 0) continue;
    ready.reserve(ready.size() + slice->endpoints.size());
    for (const auto& ep : slice->endpoints) {
      if (local_only && ep.node_name != self) continue;
      const bool is_ready = ep.ready && !ep.terminating;
      if (!is_ready && !(ep.serving && ep.terminating)) continue;
      auto& into = is_ready ? ready : terminating;
      for (const auto& ip : ep.addresses) {
        into.push_back(LbBackend{ip, target, !is_ready, ep.node_name, ep.pod_name});
      }
    }
  }
  auto& chosen = ready.empty() ? terminating : ready;
  auto by_address = [](const LbBackend& a, const LbBackend& b) {
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

bool loadBalanced(const k8s::Service& svc) {
  return !svc.headless && svc.type != "ExternalName" && !svc.cluster_ips.empty();
}

LbState serviceFrontends(const std::vector<k8s::Service>& services,
                         const std::vector<k8s::EndpointSlice>& slices, const LbNode& self) {
  // Run on every change, over every Service: no strings built to find a Service's slices, and
  // the backends and names moved into the last frontend that uses them instead of copied.
  std::unordered_map<ServiceRef, std::vector<const k8s::EndpointSlice*>, ServiceRefHash>
      slices_by_service;
  slices_by_service.reserve(slices.size());
  for (const auto& s : slices) {
    if (s.service_name.empty()) continue;
    slices_by_service[ServiceRef{s.meta.namespace_, s.service_name}].push_back(&s);
  }
  static const std::vector<const k8s::EndpointSlice*> kNoSlices;
  LbState state;
  struct Target {
    LbFrontend frontend;
    LbKind kind;
  };
  std::vector<Target> targets;
  for (const auto& svc : services) {
    if (!loadBalanced(svc)) continue;
    auto found = slices_by_service.find(ServiceRef{svc.meta.namespace_, svc.meta.name});
    const auto& svc_slices = found != slices_by_service.end() ? found->second : kNoSlices;
    const std::string key = svc.meta.key();
    const bool has_node_port = svc.type == "NodePort" || svc.type == "LoadBalancer";
    for (const auto& port : svc.ports) {
      const uint8_t proto = protoOf(port.protocol);
      if (!proto) continue;
      targets.clear();
      for (const auto& ip : svc.cluster_ips) {
        targets.push_back({{ip, port.port, proto}, LbKind::kClusterIp});
      }
      for (const auto& ip : svc.external_ips) {
        targets.push_back({{ip, port.port, proto}, LbKind::kExternalIp});
      }
      for (const auto& ip : svc.load_balancer_ips) {
        targets.push_back({{ip, port.port, proto}, LbKind::kLoadBalancer});
      }
      if (has_node_port && port.node_port != 0) {
        for (const auto& ip : self.addresses) {
          targets.push_back({{ip, port.node_port, proto}, LbKind::kNodePort});
        }
      }
      LbService base;
      base.service = key;
      base.port_name = port.name;
      base.affinity = svc.session_affinity_client_ip;
      base.affinity_timeout = svc.session_affinity_timeout;
      base.external_local = svc.external_traffic_local;
      base.internal_local = svc.internal_traffic_local;
      // Backends are computed at most twice per port: cluster-wide and node-local.
      std::vector<LbBackend> internal =
          backendsFor(svc_slices, port, svc.internal_traffic_local, self.name);
      const bool same = svc.external_traffic_local == svc.internal_traffic_local;
      std::vector<LbBackend> external =
          same ? std::vector<LbBackend>{}
               : backendsFor(svc_slices, port, svc.external_traffic_local, self.name);
      // Under policy Local with nothing here: are there endpoints elsewhere? (Computed once.)
      std::optional<bool> elsewhere;
      auto remote_only = [&](bool local, const std::vector<LbBackend>& list) {
        if (!local || !list.empty()) return false;
        if (!elsewhere) elsewhere = !backendsFor(svc_slices, port, false, self.name).empty();
        return *elsewhere;
      };
      const bool internal_remote_only = remote_only(svc.internal_traffic_local, internal);
      const bool external_remote_only =
          same ? internal_remote_only : remote_only(svc.external_traffic_local, external);
      // The last target using each list takes it; the ones before get copies.
      size_t last_internal = 0, last_external = 0;
      for (size_t i = 0; i < targets.size(); ++i) {
        (same || targets[i].kind == LbKind::kClusterIp ? last_internal : last_external) = i;
      }
      for (size_t i = 0; i < targets.size(); ++i) {
        const bool uses_internal = same || targets[i].kind == LbKind::kClusterIp;
        auto& backends = uses_internal ? internal : external;
        const bool last_use = i == (uses_internal ? last_internal : last_external);
        const bool last = i + 1 == targets.size();
        // Moved only in the last iteration.
        LbService entry = last ? std::move(base) : base;  // NOLINT(bugprone-use-after-move)
        entry.kind = targets[i].kind;
        entry.remote_only = uses_internal ? internal_remote_only : external_remote_only;
        entry.backends = last_use ? std::move(backends) : backends;
        state.insert_or_assign(targets[i].frontend, std::move(entry));
      }
    }
  }
  return state;
}

}  // namespace petrel::core
