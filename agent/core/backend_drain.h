// BackendDrain: what happens to the open connections of a backend that leaves a Service's
// maps, as Kubernetes' graceful termination asks. A backend that is terminating but still
// serving keeps its connections (it drains) until its endpoint is gone from the slices; any
// other removed backend, and a draining one once its endpoint is gone, has its clients reset.
// Pure; not thread-safe (the services reconciler owns it).
#pragma once

#include <functional>
#include <set>
#include <vector>

#include "agent/core/service_slices.h"

namespace petrel::core {

class BackendDrain {
 public:
  enum class Verdict {
    kDrain,         // keep its connections
    kDrainStarted,  // the same, and it was not draining before (worth a log line)
    kReset,         // reset its clients now
  };
  // Backend `e` left the maps; `serving_terminating`: its endpoint is serving and terminating.
  Verdict removed(EndpointAddr e, bool serving_terminating);
  // Marks `endpoints` draining: the serving terminating endpoints of the Services served here,
  // also those that an agent before a restart took out of the maps (its memory went with it).
  void seed(const std::set<EndpointAddr>& endpoints);
  // The draining backends for which `still_serving_terminating` is false: they stop draining and
  // their clients are to be reset now.
  std::vector<EndpointAddr> finished(
      const std::function<bool(EndpointAddr)>& still_serving_terminating);
  const std::set<EndpointAddr>& draining() const { return draining_; }

 private:
  std::set<EndpointAddr> draining_;
};

}  // namespace petrel::core
