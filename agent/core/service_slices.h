// ServiceSlices: which EndpointSlices belong to which Service, and which endpoints are serving
// but terminating (a pod shutting down gracefully), kept from slice events. A slice event makes
// its Service (and the Service it belonged to before, should its label have changed) dirty, and
// a Service's frontends are recomputed from its own slices alone. Pure; not thread-safe (its
// owner locks).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "k8s/objects.h"

namespace petrel::core {

// A backend endpoint: address and port, host order.
using EndpointAddr = std::pair<uint32_t, uint16_t>;

class ServiceSlices {
 public:
  // Records `slice` (or its deletion); returns the Services ("namespace/name") whose frontends
  // it may change.
  std::vector<std::string> update(const k8s::EndpointSlice& slice, bool deleted);
  // The keys ("namespace/name") of the slices of `service`.
  std::set<std::string> slicesOf(const std::string& service) const;
  // Whether some slice lists `e` as serving and terminating.
  bool servingTerminating(EndpointAddr e) const { return serving_terminating_.count(e) > 0; }
  // Every serving terminating endpoint, by the Service whose slice lists it.
  std::map<std::string, std::set<EndpointAddr>> servingTerminatingByService() const;

 private:
  void forget(const std::string& slice_key, std::vector<std::string>& dirty);

  std::map<std::string, std::set<std::string>> slices_of_service_;
  std::map<std::string, std::string> service_of_slice_;
  std::map<std::string, std::vector<EndpointAddr>> terminating_of_slice_;
  std::map<EndpointAddr, int> serving_terminating_;  // counted over the slices naming it
};

}  // namespace petrel::core
