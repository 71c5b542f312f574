// ServiceReconciler ("services"): keeps the Service load-balancing maps equal to the Services
// and EndpointSlices of the cluster. Watch handlers record which Services changed
// (serviceChanged, sliceChanged, nodeAddressesChanged) and mark it dirty; its pass recomputes
// those Services' frontends (core::FrontendIndex; all of them in a repair pass), writes them
// (the LbDatapath, the maps' one writer) and decides the fate of removed backends' connections
// (core::BackendDrain): a terminating, still serving backend keeps them until its endpoint is
// gone; any other has its clients reset (BackendResetter).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/core/backend_drain.h"
#include "agent/core/frontend_index.h"
#include "agent/core/lb_state.h"
#include "agent/core/service_slices.h"
#include "common/ip.h"
#include "common/reconciler.h"
#include "k8s/objects.h"

namespace petrel::agent {

// What the reconciler reads: the agent's informer caches, or an in-memory fake in tests.
class ServiceInputs {
 public:
  virtual ~ServiceInputs() = default;
  // Services, EndpointSlices and Nodes are synced.
  virtual bool synced() const = 0;
  virtual std::vector<k8s::Service> services() const = 0;
  virtual std::optional<k8s::Service> service(const std::string& key) const = 0;
  virtual std::vector<k8s::EndpointSlice> slices() const = 0;
  virtual std::optional<k8s::EndpointSlice> slice(const std::string& key) const = 0;
  // This node's addresses, where NodePorts listen.
  virtual std::vector<Ipv4Addr> nodeAddresses() const = 0;
};

// Resets the clients of a backend that is gone (sockets on this node, conntrack entries of
// clients from outside). `proto` 0: TCP and UDP.
class BackendResetter {
 public:
  virtual ~BackendResetter() = default;
  virtual void reset(Ipv4Addr ip, uint16_t port, uint8_t proto) = 0;
};

class ServiceReconciler : public Reconciler {
 public:
  ServiceReconciler(std::string node_name, const ServiceInputs& inputs, core::LbDatapath& lb,
                    BackendResetter& resetter);

  std::string name() const override { return "services"; }
  bool ready() const override { return inputs_.synced(); }
  Status reconcile(const ReconcilePass& pass) override;

  // Watch handlers: record what changed and mark the reconciler dirty.
  void serviceChanged(const k8s::Service& service);
  void sliceChanged(const k8s::EndpointSlice& slice, bool deleted);
  void nodeAddressesChanged();
  // The LbDatapath's hook: backend ip:port over `proto` left the maps. Called during a pass.
  void backendRemoved(Ipv4Addr ip, uint16_t port, uint8_t proto);

  // For tests: the backends draining now.
  std::set<core::EndpointAddr> draining() const;

 private:
  bool servingTerminating(core::EndpointAddr e) const;

  const std::string node_name_;
  const ServiceInputs& inputs_;
  core::LbDatapath& lb_;
  BackendResetter& resetter_;
  // Written by the handlers, read by the pass, under mu_.
  mutable std::mutex mu_;
  bool full_ = true;
  std::set<std::string> dirty_services_;
  core::ServiceSlices slices_;
  // The pass's own.
  core::FrontendIndex frontends_;
  core::BackendDrain drain_;
};

}  // namespace petrel::agent
