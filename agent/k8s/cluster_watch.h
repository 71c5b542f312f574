// ClusterWatch: the agent's informers — Nodes, Pods on this node (field selector
// spec.nodeName), Namespaces, Services, EndpointSlices, NetworkPolicies and PetrelNodes (a CRD:
// absent until installed, which counts as empty) — over one apiserver connection. Handlers passed
// in by agent/main turn events into desired state.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "k8s/informer.h"
#include "k8s/network_policy.h"
#include "k8s/rest_client.h"
#include "k8s/rest_transport.h"

namespace petrel::k8s {

struct ClusterHandlers {
  InformerCache<Node>::Handlers nodes;
  InformerCache<Pod>::Handlers pods;
  InformerCache<Namespace>::Handlers namespaces;
  InformerCache<Service>::Handlers services;
  InformerCache<EndpointSlice>::Handlers endpoint_slices;
  InformerCache<NetworkPolicy>::Handlers network_policies;
  InformerCache<PetrelNode>::Handlers petrel_nodes;
};

class ClusterWatch {
 public:
  ClusterWatch(ClusterConfig config, std::string node_name, ClusterHandlers handlers,
               std::chrono::seconds stall_timeout = std::chrono::seconds(90));
  ~ClusterWatch();

  void start();
  void stop();
  bool synced() const;
  std::vector<InformerStatus> status() const;
  const std::string& server() const { return client_.server(); }

  const InformerCache<Node>& nodes() const { return nodes_->cache(); }
  const InformerCache<Pod>& pods() const { return pods_->cache(); }
  const InformerCache<Service>& services() const { return services_->cache(); }
  const InformerCache<EndpointSlice>& endpointSlices() const { return slices_->cache(); }
  const InformerCache<PetrelNode>& petrelNodes() const { return petrel_nodes_->cache(); }

 private:
  RestClient client_;
  RestTransport transport_;
  std::unique_ptr<Informer<Node>> nodes_;
  std::unique_ptr<Informer<Pod>> pods_;
  std::unique_ptr<Informer<Namespace>> namespaces_;
  std::unique_ptr<Informer<Service>> services_;
  std::unique_ptr<Informer<EndpointSlice>> slices_;
  std::unique_ptr<Informer<NetworkPolicy>> policies_;
  std::unique_ptr<Informer<PetrelNode>> petrel_nodes_;
};

}  // namespace petrel::k8s
