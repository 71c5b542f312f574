// The sandbox kubelet: registers its Node, watches the Pods bound to it (field selector
// spec.nodeName), and reconciles them with the pod runtime: makes a new pod's volumes and
// resolv.conf and starts it, supervises running ones (renewing their service account tokens),
// reports their status, and on deletion stops them within their grace period, tears their
// network down and lets the API server forget them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/reconciler.h"
#include "k8s/informer.h"
#include "k8s/raw_object.h"
#include "k8s/rest_client.h"
#include "k8s/rest_transport.h"
#include "tools/sandbox/kubelet/api_object_source.h"
#include "tools/sandbox/kubelet/image_entrypoint.h"
#include "tools/sandbox/kubelet/pod_runtime.h"
#include "tools/sandbox/kubelet/pod_volumes.h"
#include "tools/sandbox/kubelet/resolv_conf.h"

namespace petrel::sandbox {

struct KubeletOptions {
  RuntimeOptions runtime;
  std::string pod_cidr;  // reported in the Node's spec when set
  ClusterDns dns;        // --cluster-dns, --cluster-domain
  ImageEntrypoints images;
  std::string node_resolv_conf = "/etc/resolv.conf";
  std::chrono::milliseconds resync{500};
};

class Kubelet {
 public:
  Kubelet(KubeletOptions options, k8s::ClusterConfig cluster);
  ~Kubelet();

  // Runs until `stop`; returns promptly after it is set and wake() is called. Two reconcilers
  // on the one reconcile loop: "node" (registers the Node, posts its status, renews its Lease;
  // every 10 s) and "pods" (runs the pods bound here once the Pod cache is synced; on every Pod
  // event and every `resync` for probes and restarts).
  void run(const std::atomic<bool>& stop);
  void wake();

 private:
  Status ensureNode();
  Status renewLease(const std::string& node_uid);
  void syncPods();
  void syncPod(const PodSpec& pod);
  // The pod's volumes and resolv.conf, in its directory; the error says which failed.
  Status preparePod(const PodSpec& pod);
  LaunchResolver resolver(const PodSpec& pod, bool* config_failed);
  void finishDeletion(const PodSpec& pod);
  void reportStatus(const PodSpec& pod, const nlohmann::json& status);

  KubeletOptions options_;
  k8s::RestClient client_;
  k8s::RestTransport transport_;
  ApiObjectSource objects_;
  PodVolumes volumes_;
  PodRuntime runtime_;
  std::string node_resolv_conf_;  // the node's resolv.conf, read at start
  std::unique_ptr<k8s::Informer<k8s::RawObject>> pods_;
  bool registered_ = false;     // the Node existed or was created by this process
  bool status_posted_ = false;  // by this process: capacity, addresses and Ready once
  FnReconciler node_reconciler_;
  FnReconciler pods_reconciler_;
  std::mutex mu_;
  std::condition_variable cv_;                      // wakes run() to stop
  std::map<std::string, nlohmann::json> reported_;  // uid -> last status sent
  std::map<std::string, SteadyTime> retry_at_;      // uid -> next start attempt
  std::map<std::string, std::string> rejected_;     // uid -> resourceVersion logged bad
};

}  // namespace petrel::sandbox
