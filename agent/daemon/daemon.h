// Daemon: the agent's parts, owned in dependency order, created by start() and stopped in
// reverse. The order is the design:
//   1. the datapath: overlay device, BPF objects (maps pinned, reused across restarts), the
//      overlay and socket-level programs attached;
//   2. the Kubernetes watch (its handlers only mark reconcilers dirty) and the reconcilers that
//      read it: tunnel routes, services, and their helpers (flows, the client resetter);
//   3. the pod CIDR (flag, or waited for from the API), the uplink (masquerade, NodePorts, XDP)
//      and the host device;
//   4. the endpoints (IPAM and state restored, their repair pass a reconciler);
//   5. every reconciler started, at once: each part any of them uses exists by then;
//   6. the local gRPC API.
// Every member is created before any thread that uses it starts, and stop() (also called by the
// destructor) ends every thread before a member goes.
#pragma once

#include <signal.h>

#include <memory>
#include <optional>
#include <string>

#include "agent/api/agent_service.h"
#include "agent/core/endpoint_manager.h"
#include "agent/core/state_store.h"
#include "agent/daemon/client_resetter.h"
#include "agent/daemon/cluster_inputs.h"
#include "agent/daemon/flow_reconciler.h"
#include "agent/daemon/options.h"
#include "agent/daemon/service_reconciler.h"
#include "agent/datapath/endpoint_datapath.h"
#include "agent/datapath/lb_datapath.h"
#include "agent/datapath/loader.h"
#include "agent/datapath/overlay.h"
#include "agent/datapath/uplink.h"
#include "agent/datapath/xdp_attach.h"
#include "agent/k8s/cluster_watch.h"
#include "common/ip.h"
#include "common/reconciler.h"

namespace grpc {
class Server;
}

namespace petrel::agent {

class Daemon {
 public:
  explicit Daemon(Options options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Builds and starts every part. `stop_signals` are waited on while the pod CIDR is awaited:
  // returns OK with stopped() true when one came first.
  Status start(const sigset_t& stop_signals);
  bool stopped() const { return stopped_; }
  // Stops the API, the reconcilers and the watch; programs, maps and pods stay.
  void stop();

 private:
  Status loadDatapath();
  Status startWatch();
  Status waitForPodCidr(const sigset_t& stop_signals);
  Status attachNodeDevices();
  Status startEndpoints();
  Status serveApi();

  Options opt_;
  datapath::PortRange masquerade_ports_;
  datapath::LbAcceleration acceleration_ = datapath::LbAcceleration::kBestEffort;
  bool stopped_ = false;
  std::optional<Ipv4Cidr> cidr_;
  // 1. Datapath.
  std::unique_ptr<datapath::LoadedDatapath> dp_;
  int route_ifindex_ = 0;
  std::optional<datapath::OverlayMode> overlay_mode_;
  std::string masquerade_text_ = "off";
  std::string service_path_text_ = "none (no uplink)";
  // 2. The watch and the reconcilers that read it.
  std::unique_ptr<k8s::ClusterWatch> cluster_;
  std::unique_ptr<ClusterServiceInputs> service_inputs_;
  std::unique_ptr<FlowReconciler> flows_;
  std::unique_ptr<datapath::BpfLbDatapath> lb_;
  std::unique_ptr<ClientResetter> resetter_;
  std::unique_ptr<ServiceReconciler> services_;
  std::unique_ptr<datapath::BpfTunnelDatapath> tunnel_dp_;
  std::unique_ptr<FnReconciler> tunnel_routes_;
  // 4. Endpoints.
  std::unique_ptr<datapath::BpfEndpointDatapath> endpoint_dp_;
  std::unique_ptr<core::JsonFileStateStore> store_;
  std::unique_ptr<core::EndpointManager> endpoints_;
  std::unique_ptr<FnReconciler> endpoint_repair_;
  // 5. Their loops: declared after every reconciler, so destroyed before them.
  ReconcilerSet reconcilers_;
  // 6. API.
  std::unique_ptr<api::AgentService> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace petrel::agent
