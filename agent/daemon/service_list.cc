// ListServices from BpfLbDatapath's applied state.
#include "agent/daemon/service_list.h"

namespace petrel::agent {

void fillServiceList(const datapath::BpfLbDatapath& lb, api::v1::ListServicesResponse* out) {
  for (const auto& [frontend, f] : lb.applied()) {
    auto* fe = out->add_frontends();
    fe->set_id(f.master.service_id);
    fe->set_address(frontend.ip.toString());
    fe->set_port(frontend.port);
    fe->set_protocol(frontend.proto == core::kProtoUdp ? "UDP" : "TCP");
    fe->set_type(core::lbKindName(static_cast<core::LbKind>(f.master.kind)));
    fe->set_service(f.service.service);
    fe->set_port_name(f.service.port_name);
    fe->set_session_affinity(f.service.affinity);
    fe->set_session_affinity_timeout(f.service.affinity_timeout);
    fe->set_external_traffic_policy(f.service.external_local ? "Local" : "Cluster");
    fe->set_internal_traffic_policy(f.service.internal_local ? "Local" : "Cluster");
    for (size_t i = 0; i < f.service.backends.size() && i < f.slots.size(); ++i) {
      const core::LbBackend& b = f.service.backends[i];
      auto* be = fe->add_backends();
      be->set_id(f.slots[i]);
      be->set_address(b.ip.toString());
      be->set_port(b.port);
      be->set_state(b.terminating ? "terminating" : "active");
      be->set_node(b.node);
      be->set_pod(b.pod);
    }
  }
}

}  // namespace petrel::agent
