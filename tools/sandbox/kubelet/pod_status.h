// The status the sandbox kubelet reports for a pod: phase, IPs, conditions and container
// statuses, built from what the runtime knows. Timestamps come from the record so the same
// state always builds the same status (the kubelet patches only when it changes).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tools/sandbox/kubelet/pod_runtime.h"
#include "tools/sandbox/kubelet/pod_spec.h"

namespace petrel::sandbox {

// A running (or finished) pod.
nlohmann::json buildPodStatus(const PodSpec& pod, const PodRecord& record,
                              const std::string& node_ip);

// A pod that could not start: phase Pending with the reason in its conditions.
nlohmann::json buildPendingStatus(const std::string& node_ip, const std::string& reason,
                                  const std::string& message);

}  // namespace petrel::sandbox
