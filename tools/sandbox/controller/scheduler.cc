// Scheduler logic: node and pod eligibility, round-robin, bindings.
#include "tools/sandbox/controller/scheduler.h"

#include <algorithm>

#include "tools/sandbox/controller/object_fields.h"

namespace petrel::controller {

using nlohmann::json;

bool nodeSchedulable(const json& node) {
  return conditionTrue(node, "Ready") && jsonAt(node, {"spec", "unschedulable"}) != true;
}

bool needsScheduling(const json& pod) {
  return stringAt(pod, {"spec", "nodeName"}).empty() && !isTerminating(pod) && !podFinished(pod);
}

std::vector<std::string> schedulableNodes(const std::vector<json>& nodes) {
  std::vector<std::string> out;
  for (const auto& n : nodes) {
    if (nodeSchedulable(n)) out.push_back(stringAt(n, {"metadata", "name"}));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string RoundRobin::next(const std::vector<std::string>& nodes) {
  if (nodes.empty()) return "";
  return nodes[next_++ % nodes.size()];
}

json bindingFor(const json& pod, const std::string& node) {
  return {{"apiVersion", "v1"},
          {"kind", "Binding"},
          {"metadata",
           {{"name", stringAt(pod, {"metadata", "name"})},
            {"namespace", stringAt(pod, {"metadata", "namespace"})},
            {"uid", stringAt(pod, {"metadata", "uid"})}}},
          {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
}

}  // namespace petrel::controller
