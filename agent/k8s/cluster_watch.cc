// ClusterWatch: wiring of the agent's informers.
#include "agent/k8s/cluster_watch.h"

namespace petrel::k8s {

namespace {
ListWatchOptions at(std::string path, std::string field_selector = "") {
  ListWatchOptions o;
  o.path = std::move(path);
  o.field_selector = std::move(field_selector);
  return o;
}
}  // namespace

ClusterWatch::ClusterWatch(ClusterConfig config, std::string node_name, ClusterHandlers h,
                           std::chrono::seconds stall_timeout)
    : client_(std::move(config)), transport_(client_, stall_timeout) {
  nodes_ = std::make_unique<Informer<Node>>(transport_, at("/api/v1/nodes"), "Node", decodeNode,
                                            h.nodes);
  pods_ = std::make_unique<Informer<Pod>>(
      transport_, at("/api/v1/pods", "spec.nodeName=" + node_name), "Pod", decodePod, h.pods);
  namespaces_ = std::make_unique<Informer<Namespace>>(transport_, at("/api/v1/namespaces"),
                                                      "Namespace", decodeNamespace, h.namespaces);
  services_ = std::make_unique<Informer<Service>>(transport_, at("/api/v1/services"), "Service",
                                                  decodeService, h.services);
  slices_ = std::make_unique<Informer<EndpointSlice>>(
      transport_, at("/apis/discovery.k8s.io/v1/endpointslices"), "EndpointSlice",
      decodeEndpointSlice, h.endpoint_slices);
  policies_ = std::make_unique<Informer<NetworkPolicy>>(
      transport_, at("/apis/networking.k8s.io/v1/networkpolicies"), "NetworkPolicy",
      decodeNetworkPolicy, h.network_policies);
  ListWatchOptions crd = at("/apis/petrel.io/v1alpha1/petrelnodes");
  crd.absent_ok = true;
  petrel_nodes_ = std::make_unique<Informer<PetrelNode>>(transport_, crd, "PetrelNode",
                                                         decodePetrelNode, h.petrel_nodes);
}

ClusterWatch::~ClusterWatch() {
  stop();
}

void ClusterWatch::start() {
  nodes_->start();
  pods_->start();
  namespaces_->start();
  services_->start();
  slices_->start();
  policies_->start();
  petrel_nodes_->start();
}

void ClusterWatch::stop() {
  nodes_->stop();
  pods_->stop();
  namespaces_->stop();
  services_->stop();
  slices_->stop();
  policies_->stop();
  petrel_nodes_->stop();
}

std::vector<InformerStatus> ClusterWatch::status() const {
  return {nodes_->status(),  pods_->status(),     namespaces_->status(),  services_->status(),
          slices_->status(), policies_->status(), petrel_nodes_->status()};
}

bool ClusterWatch::synced() const {
  for (const auto& s : status()) {
    if (!s.synced) return false;
  }
  return true;
}

}  // namespace petrel::k8s
