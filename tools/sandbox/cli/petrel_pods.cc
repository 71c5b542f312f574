// Petrel's pods, from the API server.
#include "tools/sandbox/cli/petrel_pods.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "k8s/cluster_config.h"
#include "k8s/rest_client.h"

namespace petrel::sandbox {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// "process://1234" (the sandbox kubelet's container IDs) -> 1234; 0 otherwise.
pid_t containerPid(const json& pod, const std::string& container) {
  for (const auto& c : pod.value("/status/containerStatuses"_json_pointer, json::array())) {
    if (c.value("name", "") != container || !c.contains("/state/running"_json_pointer)) continue;
    const std::string id = c.value("containerID", "");
    constexpr std::string_view kScheme = "process://";
    if (id.rfind(kScheme, 0) != 0) return 0;
    try {
      return static_cast<pid_t>(std::stol(id.substr(kScheme.size())));
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

}  // namespace

Result<std::vector<PetrelPod>> petrelPods(const Layout& l) {
  auto cluster = k8s::loadKubeconfig(l.kubeconfig());
  if (!cluster) return cluster.status();
  k8s::RestClient api(std::move(*cluster));
  auto r = api.get("/api/v1/pods?labelSelector=app.kubernetes.io%2Fname%3Dpetrel", 5s);
  if (!r) return r.status();
  if (r->status != 200) {
    return makeError(Code::kUnavailable, "list Petrel's pods: HTTP {}", r->status);
  }
  json list = json::parse(r->body, nullptr, false);
  if (!list.is_object()) return makeError(Code::kUnavailable, "list Petrel's pods: not JSON");
  std::vector<PetrelPod> out;
  for (const auto& p : list.value("items", json::array())) {
    const std::string role =
        p.value("/metadata/labels/app.kubernetes.io~1component"_json_pointer, "");
    const std::string name = p.value("/metadata/name"_json_pointer, "");
    PetrelPod pod;
    pod.pod = p.value("/metadata/namespace"_json_pointer, "") + "/" + name;
    pod.node = p.value("/spec/nodeName"_json_pointer, "");
    pod.component = role == "agent" ? pod.node + "/agent" : role + "/" + name;
    pod.pid = containerPid(p, role);
    pod.log = fmt::format("{}/nodes/{}/kubelet/pods/{}_{}_{}/{}.log", l.state_dir, pod.node,
                          p.value("/metadata/namespace"_json_pointer, ""), name,
                          p.value("/metadata/uid"_json_pointer, ""), role);
    out.push_back(std::move(pod));
  }
  return out;
}

}  // namespace petrel::sandbox
