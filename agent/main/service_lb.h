// ServiceLb: Service load balancing wired together in the agent. The BPF map writer, the sync
// loop that feeds it from the informer caches (a change to a Service or its EndpointSlices
// recomputes that Service alone; start, this node's addresses and the periodic repair pass
// recompute all), and the socket destroyer that resets clients of a backend that is gone (in
// every pod's namespace and the node's; clients elsewhere lose its conntrack entries, so the
// datapath resets them on their next segment). A backend that leaves the
// maps because it is terminating (serving, not ready, while another is ready) keeps its
// connections: they are reset only once its endpoint is gone from the EndpointSlices.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "agent/core/endpoint_manager.h"
#include "agent/datapath/flow_gc.h"
#include "agent/datapath/lb_datapath.h"
#include "agent/datapath/loader.h"
#include "agent/datapath/socket_destroyer.h"
#include "agent/k8s/cluster_watch.h"
#include "agent/k8s/frontend_index.h"
#include "agent/main/sync_loop.h"
#include "common/status.h"

namespace petrel::agent {

class ServiceLb {
 public:
  // `cluster` may still be empty; it is read only once the loop is started.
  ServiceLb(datapath::LoadedDatapath& dp, std::string node_name,
            const std::unique_ptr<k8s::ClusterWatch>& cluster);
  ServiceLb(const ServiceLb&) = delete;
  ServiceLb& operator=(const ServiceLb&) = delete;

  // Reads back what the maps hold, so the first apply changes only what differs.
  Status restore() { return lb_.restore(); }
  void start() { sync_.start(); }
  void stop() { sync_.stop(); }
  // Informer handlers.
  void serviceChanged(const k8s::Service& service);
  void sliceChanged(const k8s::EndpointSlice& slice, bool deleted);
  void nodeAddressesChanged();
  const datapath::BpfLbDatapath& datapath() const { return lb_; }

  // Lets the destroyer find pods' namespaces while the returned lease lives.
  struct EndpointsLease {
    std::atomic<core::EndpointManager*>& slot;
    ~EndpointsLease() { slot = nullptr; }
  };
  [[nodiscard]] EndpointsLease useEndpoints(core::EndpointManager& endpoints) {
    endpoints_ = &endpoints;
    return EndpointsLease{endpoints_};
  }

 private:
  using Endpoint = std::pair<uint32_t, uint16_t>;  // address (host order), port
  void backendRemoved(Ipv4Addr ip, uint16_t port, uint8_t proto);
  // Clients of ip:port over `proto` (0: either) are reset: sockets now, conntrack entries at
  // the end of the sync.
  void resetClientsOf(Ipv4Addr ip, uint16_t port, uint8_t proto);
  void seedDraining();
  void forgetConnectionsToGone();
  bool servingTerminating(Endpoint e);
  Status apply();

  std::string node_name_;
  const std::unique_ptr<k8s::ClusterWatch>& cluster_;
  Result<std::unique_ptr<datapath::SocketDestroyer>> destroyer_;
  std::atomic<core::EndpointManager*> endpoints_{nullptr};
  // Kept by the handlers, under mu_: what the next sync must recompute, which slices belong to
  // which Service, and the serving terminating endpoints (counted over the slices naming them).
  std::mutex mu_;
  bool full_ = true;
  std::set<std::string> dirty_services_;
  std::map<std::string, std::set<std::string>> slices_of_service_;
  std::map<std::string, std::string> service_of_slice_;
  std::map<std::string, std::vector<Endpoint>> terminating_of_slice_;
  std::map<Endpoint, int> serving_terminating_;
  // Sync thread only: the frontends, removed backends whose connections drain, and those gone
  // in this sync whose conntrack entries are still to be forgotten.
  k8s::FrontendIndex frontends_;
  std::set<Endpoint> draining_;
  std::set<datapath::BackendRef> gone_;
  datapath::BpfLbDatapath lb_;
  SyncLoop sync_;
  datapath::CtMap& conntrack_;
};

}  // namespace petrel::agent
