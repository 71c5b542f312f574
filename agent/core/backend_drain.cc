// BackendDrain: see backend_drain.h.
#include "agent/core/backend_drain.h"

namespace petrel::core {

BackendDrain::Verdict BackendDrain::removed(EndpointAddr e, bool serving_terminating) {
  if (serving_terminating) {
    return draining_.insert(e).second ? Verdict::kDrainStarted : Verdict::kDrain;
  }
  draining_.erase(e);  // reset once, now
  return Verdict::kReset;
}

void BackendDrain::seed(const std::set<EndpointAddr>& endpoints) {
  draining_.insert(endpoints.begin(), endpoints.end());
}

std::vector<EndpointAddr> BackendDrain::finished(
    const std::function<bool(EndpointAddr)>& still_serving_terminating) {
  std::vector<EndpointAddr> out;
  for (auto it = draining_.begin(); it != draining_.end();) {
    if (still_serving_terminating(*it)) {
      ++it;
      continue;
    }
    out.push_back(*it);
    it = draining_.erase(it);
  }
  return out;
}

}  // namespace petrel::core
