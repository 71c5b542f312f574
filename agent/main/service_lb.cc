// ServiceLb: see service_lb.h.
#include "agent/main/service_lb.h"

#include <spdlog/spdlog.h>

#include "agent/datapath/flow_gc.h"
#include "agent/k8s/service_frontends.h"

namespace petrel::agent {

ServiceLb::ServiceLb(datapath::LoadedDatapath& dp, std::string node_name,
                     const std::unique_ptr<k8s::ClusterWatch>& cluster)
    : node_name_(std::move(node_name)),
      cluster_(cluster),
      destroyer_(datapath::SocketDestroyer::load()),
      lb_(dp.lbServices(), dp.lbBackends(),
          [this](Ipv4Addr ip, uint16_t port, uint8_t proto) { backendRemoved(ip, port, proto); }),
      sync_(
          "service load balancing",
          [this] {
            return cluster_->services().synced() && cluster_->endpointSlices().synced() &&
                   cluster_->nodes().synced();
          },
          [this] { return apply(); }),
      conntrack_(dp.conntrack()) {
  if (!destroyer_) {
    spdlog::warn("{}: connections to removed backends will time out instead of being reset",
                 destroyer_.status().toString());
  }
  lb_.enableMaglev(dp.lbMaglevFd(), dp.maglevTableSize());
}

void ServiceLb::serviceChanged(const k8s::Service& service) {
  {
    std::lock_guard lock(mu_);
    dirty_services_.insert(service.meta.key());
  }
  sync_.markDirty();
}

void ServiceLb::sliceChanged(const k8s::EndpointSlice& slice, bool deleted) {
  const std::string key = slice.meta.key();
  {
    std::lock_guard lock(mu_);
    if (auto it = service_of_slice_.find(key); it != service_of_slice_.end()) {
      slices_of_service_[it->second].erase(key);
      if (slices_of_service_[it->second].empty()) slices_of_service_.erase(it->second);
      dirty_services_.insert(it->second);
      service_of_slice_.erase(it);
    }
    if (auto it = terminating_of_slice_.find(key); it != terminating_of_slice_.end()) {
      for (const auto& e : it->second) {
        if (--serving_terminating_[e] <= 0) serving_terminating_.erase(e);
      }
      terminating_of_slice_.erase(it);
    }
    if (!deleted && !slice.service_name.empty()) {
      const std::string service = slice.meta.namespace_ + "/" + slice.service_name;
      service_of_slice_[key] = service;
      slices_of_service_[service].insert(key);
      dirty_services_.insert(service);
      std::vector<Endpoint> terminating;
      for (const auto& ep : slice.endpoints) {
        if (!ep.serving || !ep.terminating) continue;
        for (const auto& a : ep.addresses) {
          for (const auto& p : slice.ports) terminating.emplace_back(a.value, p.port);
        }
      }
      for (const auto& e : terminating) ++serving_terminating_[e];
      if (!terminating.empty()) terminating_of_slice_[key] = std::move(terminating);
    }
  }
  sync_.markDirty();
}

void ServiceLb::nodeAddressesChanged() {
  {
    std::lock_guard lock(mu_);
    full_ = true;
  }
  sync_.markDirty();
}

bool ServiceLb::servingTerminating(Endpoint e) {
  std::lock_guard lock(mu_);
  return serving_terminating_.count(e) > 0;
}

Status ServiceLb::apply() {
  k8s::LbNode self{node_name_, {}};
  if (auto node = cluster_->nodes().get(node_name_)) self.addresses = node->internal_ips;
  std::set<std::string> dirty;
  bool full = false;
  {
    std::lock_guard lock(mu_);
    dirty.swap(dirty_services_);
    full = full_ || dirty.empty();  // nothing named: a start, a retry or the repair pass
    full_ = false;
  }
  if (full) {
    frontends_.rebuild(cluster_->services().list(), cluster_->endpointSlices().list(), self);
  } else {
    for (const auto& service : dirty) {
      std::set<std::string> slice_keys;
      {
        std::lock_guard lock(mu_);
        if (auto it = slices_of_service_.find(service); it != slices_of_service_.end()) {
          slice_keys = it->second;
        }
      }
      std::vector<k8s::EndpointSlice> slices;
      for (const auto& key : slice_keys) {
        if (auto slice = cluster_->endpointSlices().get(key)) slices.push_back(std::move(*slice));
      }
      frontends_.update(service, cluster_->services().get(service), slices, self);
    }
  }
  auto st = lb_.apply(frontends_.state());
  if (!st) {
    std::lock_guard lock(mu_);
    full_ = true;  // the retry recomputes everything
  }
  // The serving terminating endpoints of the Services served here drain, also those an agent
  // before a restart took out of the maps (its draining_ went with it); those whose endpoints
  // are gone now have their clients reset.
  seedDraining();
  for (auto it = draining_.begin(); it != draining_.end();) {
    if (servingTerminating(*it)) {
      ++it;
      continue;
    }
    resetClientsOf(Ipv4Addr{it->first}, it->second, 0);
    it = draining_.erase(it);
  }
  forgetConnectionsToGone();
  return st;
}

void ServiceLb::seedDraining() {
  std::vector<std::pair<std::string, std::vector<Endpoint>>> terminating;
  {
    std::lock_guard lock(mu_);
    for (const auto& [slice, endpoints] : terminating_of_slice_) {
      if (auto it = service_of_slice_.find(slice); it != service_of_slice_.end())
        terminating.emplace_back(it->second, endpoints);
    }
  }
  for (const auto& [service, endpoints] : terminating) {
    auto svc = cluster_->services().get(service);
    if (svc && k8s::loadBalanced(*svc)) draining_.insert(endpoints.begin(), endpoints.end());
  }
}

void ServiceLb::backendRemoved(Ipv4Addr ip, uint16_t port, uint8_t proto) {
  if (servingTerminating({ip.value, port})) {
    if (draining_.emplace(ip.value, port).second) {
      spdlog::info(
          "backend {}:{} is terminating: it takes no new connections, and its open ones go on "
          "until its endpoint is gone",
          ip.toString(), port);
    }
    return;
  }
  draining_.erase({ip.value, port});  // reset once, here
  resetClientsOf(ip, port, proto);
}

void ServiceLb::forgetConnectionsToGone() {
  if (gone_.empty()) return;
  auto n = datapath::forgetConnectionsTo(conntrack_, gone_);
  if (!n) {
    spdlog::warn("forget conntrack entries of {} removed backends: {}", gone_.size(),
                 n.status().message());
  } else if (*n > 0) {
    spdlog::info("{} removed backends: forgot {} conntrack entries, so their clients get a reset",
                 gone_.size(), *n);
  }
  gone_.clear();
}

void ServiceLb::resetClientsOf(Ipv4Addr ip, uint16_t port, uint8_t proto) {
  gone_.emplace(ip.value, port, proto);
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
