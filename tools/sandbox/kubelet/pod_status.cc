// PodRecord -> pod status JSON.
#include "tools/sandbox/kubelet/pod_status.h"

namespace petrel::sandbox {

using nlohmann::json;

namespace {

json condition(const char* type, bool value, const std::string& reason = "") {
  json c = {{"type", type}, {"status", value ? "True" : "False"}};
  if (!reason.empty()) c["reason"] = reason;
  return c;
}

// `waiting_reason` for a container that has not run yet.
json containerStatus(const ContainerRun& c, const char* waiting_reason = "ContainerCreating") {
  json state;
  if (c.pid != 0) {
    state = {{"running", {{"startedAt", c.started_at}}}};
  } else if (c.done) {
    state = {{"terminated",
              {{"exitCode", c.last_exit}, {"reason", c.last_exit == 0 ? "Completed" : "Error"}}}};
  } else {
    state = {{"waiting", {{"reason", c.last_exit >= 0 ? "CrashLoopBackOff" : waiting_reason}}}};
  }
  return {{"name", c.name},
          {"ready", c.ready},
          {"started", c.pid != 0},
          {"restartCount", c.restarts},
          {"image", "petrel-sandbox/process"},
          {"imageID", ""},
          {"containerID", c.pid != 0 ? "process://" + std::to_string(c.pid) : ""},
          {"state", state}};
}

}  // namespace

json buildPodStatus(const PodSpec& pod, const PodRecord& record, const std::string& node_ip) {
  bool all_ready = !record.containers.empty();
  json containers = json::array();
  for (const auto& c : record.containers) {
    all_ready = all_ready && c.ready;
    containers.push_back(
        containerStatus(c, record.initialized ? "ContainerCreating" : "PodInitializing"));
  }
  json init_containers = json::array();
  for (const auto& c : record.init_containers) {
    json s = containerStatus(c, "PodInitializing");
    s["ready"] = c.done && c.last_exit == 0;  // an init container is ready once it succeeded
    init_containers.push_back(std::move(s));
  }
  json ips = json::array();
  for (const auto& ip : record.ips) ips.push_back({{"ip", ip}});
  const std::string phase = record.phase(pod.restart_policy);
  const bool ready = all_ready && phase == "Running" && !record.stopping;
  json status = {
      {"phase", phase},
      {"hostIP", node_ip},
      {"hostIPs", json::array({{{"ip", node_ip}}})},
      {"startTime", record.started_at},
      {"conditions", json::array({condition("PodScheduled", true),
                                  condition("Initialized", record.initialized,
                                            record.initialized ? "" : "ContainersNotInitialized"),
                                  condition("ContainersReady", ready), condition("Ready", ready)})},
      {"containerStatuses", containers}};
  if (!record.init_containers.empty()) status["initContainerStatuses"] = init_containers;
  if (!record.ips.empty()) {
    status["podIP"] = record.ips.front();
    status["podIPs"] = ips;
  }
  return status;
}

json buildPendingStatus(const std::string& node_ip, const std::string& reason,
                        const std::string& message) {
  json ready = condition("Ready", false, reason);
  ready["message"] = message;
  return {{"phase", "Pending"},
          {"hostIP", node_ip},
          {"conditions", json::array({condition("PodScheduled", true), ready})}};
}

}  // namespace petrel::sandbox
