// ServiceSlices: see service_slices.h.
#include "agent/core/service_slices.h"

namespace petrel::core {

void ServiceSlices::forget(const std::string& slice_key, std::vector<std::string>& dirty) {
  if (auto it = service_of_slice_.find(slice_key); it != service_of_slice_.end()) {
    auto& slices = slices_of_service_[it->second];
    slices.erase(slice_key);
    if (slices.empty()) slices_of_service_.erase(it->second);
    dirty.push_back(it->second);
    service_of_slice_.erase(it);
  }
  if (auto it = terminating_of_slice_.find(slice_key); it != terminating_of_slice_.end()) {
    for (const auto& e : it->second) {
      if (--serving_terminating_[e] <= 0) serving_terminating_.erase(e);
    }
    terminating_of_slice_.erase(it);
  }
}

std::vector<std::string> ServiceSlices::update(const k8s::EndpointSlice& slice, bool deleted) {
  const std::string key = slice.meta.key();
  std::vector<std::string> dirty;
  forget(key, dirty);
  if (deleted || slice.service_name.empty()) return dirty;
  const std::string service = slice.meta.namespace_ + "/" + slice.service_name;
  service_of_slice_[key] = service;
  slices_of_service_[service].insert(key);
  if (dirty.empty() || dirty.front() != service) dirty.push_back(service);
  std::vector<EndpointAddr> terminating;
  for (const auto& ep : slice.endpoints) {
    if (!ep.serving || !ep.terminating) continue;
    for (const auto& a : ep.addresses) {
      for (const auto& p : slice.ports) terminating.emplace_back(a.value, p.port);
    }
  }
  for (const auto& e : terminating) ++serving_terminating_[e];
  if (!terminating.empty()) terminating_of_slice_[key] = std::move(terminating);
  return dirty;
}

std::set<std::string> ServiceSlices::slicesOf(const std::string& service) const {
  auto it = slices_of_service_.find(service);
  return it == slices_of_service_.end() ? std::set<std::string>{} : it->second;
}

std::map<std::string, std::set<EndpointAddr>> ServiceSlices::servingTerminatingByService() const {
  std::map<std::string, std::set<EndpointAddr>> out;
  for (const auto& [slice, endpoints] : terminating_of_slice_) {
    if (auto it = service_of_slice_.find(slice); it != service_of_slice_.end()) {
      out[it->second].insert(endpoints.begin(), endpoints.end());
    }
  }
  return out;
}

}  // namespace petrel::core
