// FrontendIndex: see frontend_index.h.
#include "agent/core/frontend_index.h"

namespace petrel::core {

void FrontendIndex::rebuild(const std::vector<k8s::Service>& services,
                            const std::vector<k8s::EndpointSlice>& slices, const LbNode& self) {
  state_ = serviceFrontends(services, slices, self);
  by_service_.clear();
  for (const auto& [frontend, svc] : state_) by_service_[svc.service].push_back(frontend);
}

void FrontendIndex::removeService(const std::string& key) {
  auto it = by_service_.find(key);
  if (it == by_service_.end()) return;
  for (const auto& frontend : it->second) {
    // Another Service may have claimed the same address and port since.
    auto entry = state_.find(frontend);
    if (entry != state_.end() && entry->second.service == key) state_.erase(entry);
  }
  by_service_.erase(it);
}

void FrontendIndex::update(const std::string& key, const std::optional<k8s::Service>& service,
                           const std::vector<k8s::EndpointSlice>& slices, const LbNode& self) {
  removeService(key);
  if (!service) return;
  auto mine = serviceFrontends({*service}, slices, self);
  auto& list = by_service_[key];
  for (auto& [frontend, svc] : mine) {
    list.push_back(frontend);
    state_.insert_or_assign(frontend, std::move(svc));
  }
  if (list.empty()) by_service_.erase(key);
}

}  // namespace petrel::core
