// Whether a stopping agent is being uninstalled: asked of the API when the agent runs as a pod of
// a DaemonSet. `helm uninstall` deletes the DaemonSet, whose pods then get SIGTERM: the DaemonSet
// is gone (404) or marked for deletion (foreground deletion). A rolling upgrade or a restart
// stops the pod too, but its DaemonSet stays. Any doubt (API unreachable, no permission, no
// DaemonSet owner) keeps the datapath: pods losing connections is worse than pins left behind.
// docs/decisions.md says why this and not a preStop hook or a Helm hook Job.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "agent/daemon/options.h"

namespace petrel::agent {

enum class UninstallDecision {
  kUninstall,  // the DaemonSet is gone or being deleted: remove everything
  kKeep,       // the DaemonSet is there (upgrade, restart), or the pod has none
  kUnknown,    // the API could not tell: keep, and say why
};

struct UninstallVerdict {
  UninstallDecision decision = UninstallDecision::kUnknown;
  std::string reason;  // a sentence for the log
};

// One answer of the API: `status` 0 when it was not reached, `body` then says why.
struct ApiAnswer {
  long status = 0;
  std::string body;
};

// The decision, from the answer to GET of the agent's own Pod `pod_namespace`/`pod_name` and
// the answer `get_daemonset` gives for the DaemonSet owning it (apps/v1, kind DaemonSet, in the
// pod's namespace; called only when the Pod names one). No I/O of its own.
UninstallVerdict decideUninstall(const std::string& pod_namespace, const std::string& pod_name,
                                 const ApiAnswer& pod,
                                 const std::function<ApiAnswer(const std::string&)>& get_daemonset);

// The DaemonSet (apps/v1) in a Pod's ownerReferences: {name, uid}; nullopt when none.
std::optional<std::pair<std::string, std::string>> daemonSetOwner(const nlohmann::json& pod);

// Asks the API (each request within `timeout`) with the agent's cluster config and logs the
// verdict. kKeep without asking when the agent does not run in a pod (POD_NAME/POD_NAMESPACE
// unset), has no API, or --cleanup-on-uninstall is off.
UninstallVerdict checkUninstall(const Options& opt,
                                std::chrono::seconds timeout = std::chrono::seconds(3));

}  // namespace petrel::agent
