// The sandbox scheduler's logic as pure functions: which nodes take pods (Ready, schedulable),
// which pods wait for a node, round-robin placement and the Binding that records it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace petrel::controller {

// True when the node's Ready condition is True and spec.unschedulable is not true.
bool nodeSchedulable(const nlohmann::json& node);

// True when the pod has no spec.nodeName, is not being deleted and has not finished.
// hostNetwork pods are scheduled like any other.
bool needsScheduling(const nlohmann::json& pod);

// The names of the schedulable nodes among `nodes`, sorted.
std::vector<std::string> schedulableNodes(const std::vector<nlohmann::json>& nodes);

// Round-robin placement over a node list that may change between calls.
class RoundRobin {
 public:
  // The next node of `nodes` (sorted names); "" when there is none.
  std::string next(const std::vector<std::string>& nodes);

 private:
  size_t next_ = 0;
};

// The v1 Binding that assigns `pod` to `node` (POST to pods/{name}/binding).
nlohmann::json bindingFor(const nlohmann::json& pod, const std::string& node);

}  // namespace petrel::controller
