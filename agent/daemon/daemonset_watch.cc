// The agent's DaemonSet, watched for its deletion.
#include "agent/daemon/daemonset_watch.h"

#include <spdlog/spdlog.h>

#include "agent/daemon/uninstall_check.h"
#include "common/json_path.h"
#include "k8s/cluster_config.h"
#include "k8s/rest_client.h"

namespace petrel::agent {

using nlohmann::json;
using namespace std::chrono_literals;

bool DaemonSetFate::ours(const json& object) const {
  return stringAt(object, {"metadata", "name"}) == name_ &&
         (uid_.empty() || stringAt(object, {"metadata", "uid"}) == uid_);
}

void DaemonSetFate::replace(const std::vector<json>& items) {
  bool present = false;
  for (const auto& item : items) {
    if (!ours(item)) continue;
    present = true;
    upsert(item);
  }
  if (!present) deleted_ = true;
}

void DaemonSetFate::upsert(const json& object) {
  if (ours(object) && !jsonAt(object, {"metadata", "deletionTimestamp"}).is_null()) {
    deleted_ = true;
  }
}

void DaemonSetFate::remove(const json& object) {
  if (ours(object)) deleted_ = true;
}

std::unique_ptr<DaemonSetWatch> DaemonSetWatch::start(const Options& opt) {
  if (!opt.cleanup_on_uninstall || opt.pod_name.empty() || opt.pod_namespace.empty() ||
      !opt.useApi()) {
    return nullptr;
  }
  auto config = opt.kubeconfig.empty() ? k8s::loadInCluster() : k8s::loadKubeconfig(opt.kubeconfig);
  if (!config) {
    spdlog::warn("not watching this agent's DaemonSet: {}", config.status().message());
    return nullptr;
  }
  k8s::RestClient client(*config);
  const std::string path = "/api/v1/namespaces/" + k8s::urlEncode(opt.pod_namespace) + "/pods/" +
                           k8s::urlEncode(opt.pod_name);
  auto pod = client.get(path, 5s);
  if (!pod || pod->status != 200) {
    spdlog::warn("not watching this agent's DaemonSet: GET Pod {}/{}: {}", opt.pod_namespace,
                 opt.pod_name,
                 pod ? fmt::format("HTTP {} (the agent's RBAC needs `get pods`)", pod->status)
                     : pod.status().message());
    return nullptr;
  }
  auto owner = daemonSetOwner(json::parse(pod->body, nullptr, false));
  if (!owner) return nullptr;  // not a DaemonSet's pod: nothing to tell an uninstall by
  auto watch = std::unique_ptr<DaemonSetWatch>(
      new DaemonSetWatch(std::move(*config), opt.pod_namespace, owner->first, owner->second));
  spdlog::info("watching {} (its deletion means an uninstall)", watch->ref_);
  return watch;
}

DaemonSetWatch::DaemonSetWatch(k8s::ClusterConfig config, const std::string& ns,
                               const std::string& name, const std::string& uid)
    : client_(std::move(config)),
      transport_(client_, 90s),
      fate_(name, uid),
      ref_("DaemonSet " + ns + "/" + name) {
  k8s::ListWatchOptions options;
  options.path = "/apis/apps/v1/namespaces/" + k8s::urlEncode(ns) + "/daemonsets";
  options.field_selector = "metadata.name=" + name;
  watcher_ = std::make_unique<k8s::ListWatcher>(transport_, fate_, options);
  thread_ = std::thread([this] { watcher_->run(stop_); });
}

DaemonSetWatch::~DaemonSetWatch() {
  stop_ = true;
  watcher_->wake();
  if (thread_.joinable()) thread_.join();
}

}  // namespace petrel::agent
