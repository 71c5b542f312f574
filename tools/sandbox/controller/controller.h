// Controller: the wiring of petrel-controller. Informers for Nodes, Pods, Services and the
// managed EndpointSlices feed a dirty set (services to reconcile, "scheduling needed"); one
// worker thread debounces bursts, then binds unscheduled pods round-robin and reconciles each
// dirty Service's slices (re-reading them from the server, retrying on 409 Conflict). Watch
// handlers never write to the API; a periodic full pass repairs anything missed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k8s/cluster_config.h"
#include "k8s/informer.h"
#include "k8s/rest_client.h"
#include "k8s/rest_transport.h"
#include "tools/sandbox/controller/scheduler.h"

namespace petrel::controller {

struct ControllerOptions {
  // A burst of events is coalesced until it has been quiet for `debounce`, at most `maxDelay`.
  std::chrono::milliseconds debounce{100};
  std::chrono::milliseconds maxDelay{1000};
  std::chrono::seconds resync{30};  // full pass of every Service and pending pod
};

// An object kept as its raw JSON (the controllers read fields the typed decoders skip).
struct RawObject {
  k8s::ObjectMeta meta;
  nlohmann::json object;
};

class Controller {
 public:
  Controller(k8s::ClusterConfig config, ControllerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Runs until `stop` is set (call wake() after setting it). Starts and stops the informers.
  void run(const std::atomic<bool>& stop);
  void wake();

 private:
  using Cache = k8s::InformerCache<RawObject>;
  std::unique_ptr<k8s::Informer<RawObject>> informer(const std::string& kind,
                                                     const std::string& path,
                                                     const std::string& labelSelector,
                                                     bool namespaced, Cache::Handlers handlers);
  void markService(const std::string& key);
  void markNamespace(const std::string& ns);
  void markSchedule();
  void markEverything();
  bool synced() const;
  void stopInformers();

  void schedulePass();
  // Brings one Service's slices to the desired state. False when it should be retried later.
  bool reconcileService(const std::string& key,
                        const std::map<std::string, std::vector<nlohmann::json>>& podsByNs);

  k8s::RestClient client_;
  k8s::RestTransport transport_;
  ControllerOptions options_;
  std::unique_ptr<k8s::Informer<RawObject>> nodes_, pods_, services_, slices_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> dirtyServices_;    // "ns/name"
  std::set<std::string> dirtyNamespaces_;  // where pods changed
  bool scheduleDirty_ = false;
  uint64_t events_ = 0;
  std::map<std::string, std::string> bindingSent_;  // pod key -> uid, until the cache shows it
  std::set<std::string> reportedUnschedulable_;     // pods logged as "no ready node"
  RoundRobin roundRobin_;
};

}  // namespace petrel::controller
