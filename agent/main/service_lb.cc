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
          [this](Ipv4Addr ip, uint16_t port, uint8_t) { backendRemoved(ip, port); }),
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

namespace {

// The (address, port) of every serving terminating endpoint in `slices`.
std::set<std::pair<uint32_t, uint16_t>> servingTerminating(
    const std::vector<k8s::EndpointSlice>& slices) {
  std::set<std::pair<uint32_t, uint16_t>> out;
  for (const auto& slice : slices) {
    for (const auto& ep : slice.endpoints) {
      if (!ep.serving || !ep.terminating) continue;
      for (const auto& a : ep.addresses) {
        for (const auto& p : slice.ports) out.emplace(a.value, p.port);
      }
    }
  }
  return out;
}

}  // namespace

Status ServiceLb::apply() {
  k8s::LbNode self{node_name_, {}};
  if (auto node = cluster_->nodes().get(node_name_)) self.addresses = node->internal_ips;
  const auto slices = cluster_->endpointSlices().list();
  serving_terminating_ = servingTerminating(slices);
  auto st = lb_.apply(k8s::serviceFrontends(cluster_->services().list(), slices, self));
  // Draining backends whose endpoints are gone now: their clients get the reset.
  for (auto it = draining_.begin(); it != draining_.end();) {
    if (serving_terminating_.count(*it)) {
      ++it;
      continue;
    }
    resetClientsOf(Ipv4Addr{it->first}, it->second);
    it = draining_.erase(it);
  }
  return st;
}

void ServiceLb::backendRemoved(Ipv4Addr ip, uint16_t port) {
  if (serving_terminating_.count({ip.value, port})) {
    if (draining_.emplace(ip.value, port).second) {
      spdlog::info(
          "backend {}:{} is terminating: it takes no new connections, and its open ones go on "
          "until its endpoint is gone",
          ip.toString(), port);
    }
    return;
  }
  resetClientsOf(ip, port);
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
