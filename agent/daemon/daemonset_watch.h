// DaemonSetWatch: the agent's own DaemonSet, watched from the agent's start while its
// credentials work. `helm uninstall` deletes the DaemonSet and, a moment later, the agent's
// ServiceAccount and RBAC: by the time the agent gets SIGTERM it can no longer ask the API (HTTP
// 401), but a watch opened before has already delivered the deletion. The stop-time question
// (uninstall_check.h) remains the fallback when the watch saw nothing.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent/daemon/options.h"
#include "k8s/list_watcher.h"
#include "k8s/rest_client.h"
#include "k8s/rest_transport.h"

namespace petrel::agent {

// What the watch has seen of one DaemonSet (name and uid): pure, fed by the list-watch.
class DaemonSetFate : public k8s::ListWatchSink {
 public:
  DaemonSetFate(std::string name, std::string uid) : name_(std::move(name)), uid_(std::move(uid)) {}
  // A list without it (it is gone), an update with metadata.deletionTimestamp, or a delete.
  void replace(const std::vector<nlohmann::json>& items) override;
  void upsert(const nlohmann::json& object) override;
  void remove(const nlohmann::json& object) override;
  bool deleted() const { return deleted_; }

 private:
  bool ours(const nlohmann::json& object) const;
  std::string name_, uid_;
  std::atomic<bool> deleted_{false};
};

class DaemonSetWatch {
 public:
  // Reads the agent's Pod (POD_NAMESPACE/POD_NAME) for the DaemonSet owning it and watches that
  // one DaemonSet. nullptr, with a log line saying why, when the agent is not a DaemonSet's pod,
  // has no API, or --cleanup-on-uninstall is off.
  static std::unique_ptr<DaemonSetWatch> start(const Options& opt);
  ~DaemonSetWatch();

  // The DaemonSet this pod belongs to was deleted (or marked for deletion) while we watched.
  bool deleted() const { return fate_.deleted(); }
  const std::string& ref() const { return ref_; }

 private:
  DaemonSetWatch(k8s::ClusterConfig config, const std::string& ns, const std::string& name,
                 const std::string& uid);

  k8s::RestClient client_;
  k8s::RestTransport transport_;
  DaemonSetFate fate_;
  std::string ref_;
  std::unique_ptr<k8s::ListWatcher> watcher_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace petrel::agent
