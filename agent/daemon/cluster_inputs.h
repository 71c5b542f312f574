// ClusterServiceInputs: the services reconciler's inputs read from the agent's informer caches.
#pragma once

#include <string>

#include "agent/daemon/service_reconciler.h"
#include "agent/k8s/cluster_watch.h"

namespace petrel::agent {

class ClusterServiceInputs : public ServiceInputs {
 public:
  ClusterServiceInputs(const k8s::ClusterWatch& cluster, std::string node_name)
      : cluster_(cluster), node_name_(std::move(node_name)) {}

  bool synced() const override {
    return cluster_.services().synced() && cluster_.endpointSlices().synced() &&
           cluster_.nodes().synced();
  }
  std::vector<k8s::Service> services() const override { return cluster_.services().list(); }
  std::optional<k8s::Service> service(const std::string& key) const override {
    return cluster_.services().get(key);
  }
  std::vector<k8s::EndpointSlice> slices() const override {
    return cluster_.endpointSlices().list();
  }
  std::optional<k8s::EndpointSlice> slice(const std::string& key) const override {
    return cluster_.endpointSlices().get(key);
  }
  std::vector<Ipv4Addr> nodeAddresses() const override {
    auto node = cluster_.nodes().get(node_name_);
    return node ? node->internal_ips : std::vector<Ipv4Addr>{};
  }

 private:
  const k8s::ClusterWatch& cluster_;
  const std::string node_name_;
};

}  // namespace petrel::agent
