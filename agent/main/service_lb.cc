// ServiceLb: see service_lb.h.
#include "agent/main/service_lb.h"

#include <spdlog/spdlog.h>

#include "agent/k8s/service_frontends.h"

namespace petrel::agent {

ServiceLb::ServiceLb(datapath::LoadedDatapath& dp, std::string node_name,
                     const std::unique_ptr<k8s::ClusterWatch>& cluster)
    : node_name_(std::move(node_name)),
      cluster_(cluster),
      destroyer_(datapath::SocketDestroyer::load()),
      lb_(dp.lbServices(), dp.lbBackends(),
          [this](Ipv4Addr ip, uint16_t port, uint8_t) { resetClientsOf(ip, port); }),
      sync_(
          "service load balancing",
          [this] {
            return cluster_->services().synced() && cluster_->endpointSlices().synced() &&
                   cluster_->nodes().synced();
          },
          [this] { return apply(); }) {
  if (!destroyer_) {
    spdlog::warn("{}: connections to removed backends will time out instead of being reset",
                 destroyer_.status().toString());
  }
  lb_.enableMaglev(dp.lbMaglevFd(), dp.maglevTableSize());
}

Status ServiceLb::apply() {
  k8s::LbNode self{node_name_, {}};
  if (auto node = cluster_->nodes().get(node_name_)) self.addresses = node->internal_ips;
  return lb_.apply(
      k8s::serviceFrontends(cluster_->services().list(), cluster_->endpointSlices().list(), self));
}

void ServiceLb::resetClientsOf(Ipv4Addr ip, uint16_t port) {
  if (!destroyer_) return;
  std::vector<std::string> netns = {""};
  if (auto* eps = endpoints_.load()) {
    for (const auto& ep : eps->list()) {
      if (!ep.netns.empty()) netns.push_back(ep.netns);
    }
  }
  auto n = (*destroyer_)->destroy(ip, port, netns);
  if (!n) {
    spdlog::warn("destroy sockets to removed backend {}:{}: {}", ip.toString(), port,
                 n.status().message());
  } else if (*n > 0) {
    spdlog::info("backend {}:{} removed: reset {} connections to it", ip.toString(), port, *n);
  }
}

}  // namespace petrel::agent
