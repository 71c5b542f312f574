// FrontendIndex: the LbState of all Services, kept up to date one Service at a time. A change to
// a Service or one of its EndpointSlices recomputes only that Service's frontends (with
// serviceFrontends over it alone), so a sync after one change costs the change, not N; a full
// rebuild (start, node addresses changed, periodic repair) recomputes everything.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/lb_state.h"
#include "agent/core/service_frontends.h"
#include "k8s/objects.h"

namespace petrel::core {

class FrontendIndex {
 public:
  void rebuild(const std::vector<k8s::Service>& services,
               const std::vector<k8s::EndpointSlice>& slices, const LbNode& self);
  // Replaces the frontends of the Service `key` ("namespace/name") with those of `service` and
  // `slices` (its EndpointSlices); no `service`: it is gone.
  void update(const std::string& key, const std::optional<k8s::Service>& service,
              const std::vector<k8s::EndpointSlice>& slices, const LbNode& self);
  const LbState& state() const { return state_; }

 private:
  void removeService(const std::string& key);

  LbState state_;
  std::map<std::string, std::vector<LbFrontend>> by_service_;
};

}  // namespace petrel::core
