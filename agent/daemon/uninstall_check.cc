// The uninstall decision and its two API requests; see uninstall_check.h.
#include "agent/daemon/uninstall_check.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/json_path.h"
#include "k8s/cluster_config.h"
#include "k8s/rest_client.h"

namespace petrel::agent {

namespace {

using nlohmann::json;

UninstallVerdict unknown(std::string reason) {
  return {UninstallDecision::kUnknown, std::move(reason)};
}

// Why an answer that is not 200 cannot be used.
std::string describeFailure(const ApiAnswer& a, const std::string& what, const std::string& verb) {
  if (a.status == 0) return fmt::format("the API is unreachable ({})", a.body);
  if (a.status == 401 || a.status == 403) {
    return fmt::format("HTTP {} reading {} (the agent's RBAC needs `{}`)", a.status, what, verb);
  }
  return fmt::format("HTTP {} reading {}", a.status, what);
}

}  // namespace

std::optional<std::pair<std::string, std::string>> daemonSetOwner(const json& pod) {
  const json& owners = jsonAt(pod, {"metadata", "ownerReferences"});
  if (!owners.is_array()) return std::nullopt;
  for (const auto& o : owners) {
    if (stringAt(o, {"kind"}) == "DaemonSet" && stringAt(o, {"apiVersion"}) == "apps/v1" &&
        !stringAt(o, {"name"}).empty()) {
      return std::make_pair(stringAt(o, {"name"}), stringAt(o, {"uid"}));
    }
  }
  return std::nullopt;
}

UninstallVerdict decideUninstall(
    const std::string& pod_namespace, const std::string& pod_name, const ApiAnswer& pod,
    const std::function<ApiAnswer(const std::string&)>& get_daemonset) {
  const std::string pod_ref = "Pod " + pod_namespace + "/" + pod_name;
  if (pod.status != 200) {
    return unknown(describeFailure(pod, pod_ref, "get pods") + ": cannot tell");
  }
  const json p = json::parse(pod.body, nullptr, false);
  if (!p.is_object() || stringAt(p, {"kind"}, "Pod") != "Pod") {
    return unknown(pod_ref + ": the answer is not a Pod");
  }
  const auto owner = daemonSetOwner(p);
  const std::string ds_name = owner ? owner->first : "", ds_uid = owner ? owner->second : "";
  if (ds_name.empty()) {
    return {UninstallDecision::kKeep, pod_ref + " is not owned by a DaemonSet: not an uninstall"};
  }
  const std::string ds_ref = "DaemonSet " + pod_namespace + "/" + ds_name;
  const ApiAnswer ds = get_daemonset(ds_name);
  if (ds.status == 404) return {UninstallDecision::kUninstall, ds_ref + " is gone: uninstall"};
  if (ds.status != 200) {
    return unknown(describeFailure(ds, ds_ref, "get daemonsets") + ": cannot tell");
  }
  const json d = json::parse(ds.body, nullptr, false);
  if (!d.is_object()) return unknown(ds_ref + ": the answer is not JSON");
  const std::string uid = stringAt(d, {"metadata", "uid"});
  if (!ds_uid.empty() && !uid.empty() && uid != ds_uid) {
    // Uninstalled and installed again: the new DaemonSet's agent takes the datapath over.
    return {UninstallDecision::kKeep,
            fmt::format("{} is a new one (uid {}, this pod's was {}): keeping the datapath for "
                        "its agent",
                        ds_ref, uid, ds_uid)};
  }
  if (!jsonAt(d, {"metadata", "deletionTimestamp"}).is_null()) {
    return {UninstallDecision::kUninstall, ds_ref + " is being deleted: uninstall"};
  }
  return {UninstallDecision::kKeep, ds_ref + " present: keeping the datapath for the next agent"};
}

namespace {

// The verdict of checkUninstall(), before it is logged.
UninstallVerdict askApi(const Options& opt, std::chrono::seconds timeout) {
  if (!opt.cleanup_on_uninstall) {
    return {UninstallDecision::kKeep, "--cleanup-on-uninstall is off: keeping the datapath"};
  }
  if (opt.pod_name.empty() || opt.pod_namespace.empty() || !opt.useApi()) {
    return {UninstallDecision::kKeep,
            "not a pod with the API (POD_NAME, POD_NAMESPACE and the API are needed to tell an "
            "uninstall): keeping the datapath"};
  }
  auto config = opt.kubeconfig.empty() ? k8s::loadInCluster() : k8s::loadKubeconfig(opt.kubeconfig);
  if (!config) return unknown("no cluster config (" + config.status().message() + "): cannot tell");
  k8s::RestClient client(*config);
  auto get = [&](const std::string& path) {
    auto r = client.get(path, timeout);
    return r ? ApiAnswer{r->status, r->body} : ApiAnswer{0, r.status().message()};
  };
  const std::string ns = k8s::urlEncode(opt.pod_namespace);
  return decideUninstall(
      opt.pod_namespace, opt.pod_name,
      get("/api/v1/namespaces/" + ns + "/pods/" + k8s::urlEncode(opt.pod_name)),
      [&](const std::string& ds) {
        return get("/apis/apps/v1/namespaces/" + ns + "/daemonsets/" + k8s::urlEncode(ds));
      });
}

}  // namespace

UninstallVerdict checkUninstall(const Options& opt, std::chrono::seconds timeout) {
  const UninstallVerdict v = askApi(opt, timeout);
  switch (v.decision) {
    case UninstallDecision::kUninstall:
      spdlog::warn("{}, removing this node's Petrel datapath, pins, state and CNI config",
                   v.reason);
      break;
    case UninstallDecision::kKeep:
      spdlog::info("{}", v.reason);
      break;
    case UninstallDecision::kUnknown:
      spdlog::warn(
          "{}; keeping the datapath (run `petrel-agent cleanup` on the node if Petrel "
          "was uninstalled)",
          v.reason);
      break;
  }
  return v;
}

}  // namespace petrel::agent
