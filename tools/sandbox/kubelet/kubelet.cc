// Node registration and the pod reconcile loop.
#include "tools/sandbox/kubelet/kubelet.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/sandbox/kubelet/container_launch.h"
#include "tools/sandbox/kubelet/node_status.h"
#include "tools/sandbox/kubelet/pod_status.h"

namespace petrel::sandbox {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string podPath(const PodSpec& pod) {
  return fmt::format("/api/v1/namespaces/{}/pods/{}", pod.namespace_, pod.name);
}

bool readyIn(const json& node) {
  if (!node.is_object()) return false;
  for (const auto& c : node.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

// The API answered something other than success: "HTTP 404: <message>".
std::string describe(const k8s::HttpResponse& r) {
  json body = json::parse(r.body, nullptr, false);
  std::string msg = body.is_object() ? body.value("message", r.body) : r.body;
  return fmt::format("HTTP {}: {}", r.status, msg.substr(0, 300));
}

}  // namespace

Kubelet::Kubelet(KubeletOptions options, k8s::ClusterConfig cluster)
    : options_(std::move(options)),
      client_(std::move(cluster)),
      transport_(client_, std::chrono::seconds(90)),
      objects_(client_),
      volumes_(objects_),
      runtime_(options_.runtime),
      node_reconciler_("node", [this](const ReconcilePass&) { return ensureNode(); }),
      pods_reconciler_(
          "pods",
          [this](const ReconcilePass&) {
            syncPods();
            return Status::ok();
          },
          [this] { return pods_->cache().synced(); }) {
  std::ifstream resolv(options_.node_resolv_conf);
  std::stringstream text;
  text << resolv.rdbuf();
  node_resolv_conf_ = text.str();
  k8s::ListWatchOptions watch;
  watch.path = "/api/v1/pods";
  watch.field_selector = "spec.nodeName=" + options_.runtime.node_name;
  auto notify = [this](const k8s::RawObject&) { pods_reconciler_.markDirty(); };
  pods_ = std::make_unique<k8s::Informer<k8s::RawObject>>(
      transport_, watch, "Pod", [](const json& j) { return k8s::decodeRawObject(j, true); },
      k8s::InformerCache<k8s::RawObject>::Handlers{notify, notify});
}

Kubelet::~Kubelet() {
  pods_->stop();
}

void Kubelet::wake() {
  cv_.notify_all();
}

Status Kubelet::ensureNode() {
  const std::string& node = options_.runtime.node_name;
  auto got = client_.get("/api/v1/nodes/" + node, 10s);
  if (!got) return got.status();
  if (got->status == 404 && registered_) {
    // As a kubelet: it registers once; a Node deleted later stays deleted until someone creates
    // it again (or the kubelet restarts), so "delete the Node" means what it says.
    return makeError(Code::kNotFound,
                     "node {} was deleted from the API; not registering it again (restart "
                     "petrel-kubelet to register it)",
                     node);
  }
  if (got->status == 404) {
    json obj = {{"apiVersion", "v1"},
                {"kind", "Node"},
                {"metadata",
                 {{"name", node},
                  {"labels",
                   {{"kubernetes.io/hostname", node},
                    {"kubernetes.io/os", "linux"},
                    {"kubernetes.io/arch", "amd64"},
                    {"petrel.io/sandbox", "true"}}}}},
                {"spec", json::object()}};
    if (!options_.pod_cidr.empty()) {
      obj["spec"] = {{"podCIDR", options_.pod_cidr}, {"podCIDRs", {options_.pod_cidr}}};
    }
    got = client_.send("POST", "/api/v1/nodes", obj.dump(), 10s);
    if (!got) return got.status();
    if (got->status != 201) {
      return makeError(Code::kUnavailable, "register node {}: {}", node, describe(*got));
    }
    spdlog::info("registered node {} ({})", node, options_.runtime.node_ip);
    status_posted_ = false;
  } else if (got->status != 200) {
    return makeError(Code::kUnavailable, "GET node {}: {}", node, describe(*got));
  }
  registered_ = true;
  json current = json::parse(got->body, nullptr, false);
  const std::string uid =
      current.is_object() ? current.value("/metadata/uid"_json_pointer, "") : "";
  if (!status_posted_ || !readyIn(current)) {
    auto patched =
        client_.send("PATCH", "/api/v1/nodes/" + node + "/status",
                     json{{"status", buildNodeStatus(options_.runtime.node_ip, node)}}.dump(), 10s,
                     "application/merge-patch+json");
    if (!patched) return patched.status();
    if (patched->status != 200) {
      return makeError(Code::kUnavailable, "set status of node {}: {}", node, describe(*patched));
    }
    status_posted_ = true;
  }
  return renewLease(uid);
}

// The node's heartbeat: its Lease in kube-node-lease, renewed every pass (10 s) as a kubelet
// does; the node lifecycle controller marks a node whose Lease goes stale NotReady.
Status Kubelet::renewLease(const std::string& node_uid) {
  const std::string& node = options_.runtime.node_name;
  const std::string path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + node;
  auto got = client_.get(path, 10s);
  if (!got) return got.status();
  json lease;
  if (got->status == 404) {
    lease = {{"apiVersion", "coordination.k8s.io/v1"},
             {"kind", "Lease"},
             {"metadata", {{"name", node}, {"namespace", "kube-node-lease"}}},
             {"spec", {{"holderIdentity", node}, {"leaseDurationSeconds", 40}}}};
    if (!node_uid.empty()) {
      lease["metadata"]["ownerReferences"] = {
          {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}, {"uid", node_uid}}};
    }
  } else if (got->status == 200) {
    lease = json::parse(got->body, nullptr, false);
    if (!lease.is_object()) return makeError(Code::kInternal, "lease {}: not JSON", node);
  } else {
    return makeError(Code::kUnavailable, "GET lease {}: {}", node, describe(*got));
  }
  lease["spec"]["renewTime"] = nowMicroTime();
  const bool create = got->status == 404;
  auto put = create ? client_.send("POST",
                                   "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                                   lease.dump(), 10s)
                    : client_.send("PUT", path, lease.dump(), 10s);
  if (!put) return put.status();
  if (put->status != 200 && put->status != 201) {
    return makeError(Code::kUnavailable, "renew lease {}: {}", node, describe(*put));
  }
  return Status::ok();
}

void Kubelet::reportStatus(const PodSpec& pod, const json& status) {
  auto it = reported_.find(pod.uid);
  if (it != reported_.end() && it->second == status) return;
  json patch = {{"status", status}};
  auto r = client_.send("PATCH", podPath(pod) + "/status", patch.dump(), 10s,
                        "application/merge-patch+json");
  if (!r || r->status != 200) {
    spdlog::warn("pod {}: status update failed: {}", pod.key(),
                 r ? describe(*r) : r.status().message());
    return;  // tried again next pass
  }
  reported_[pod.uid] = status;
  spdlog::info("pod {}: {} {}", pod.key(), status.value("phase", ""), status.value("podIP", ""));
}

void Kubelet::finishDeletion(const PodSpec& pod) {
  json options = {{"apiVersion", "v1"},
                  {"kind", "DeleteOptions"},
                  {"gracePeriodSeconds", 0},
                  {"preconditions", {{"uid", pod.uid}}}};
  auto r = client_.send("DELETE", podPath(pod), options.dump(), 10s);
  if (!r) {
    spdlog::warn("pod {}: final delete failed: {}", pod.key(), r.status().message());
  } else if (r->status != 200 && r->status != 404 && r->status != 409) {
    spdlog::warn("pod {}: final delete failed: {}", pod.key(), describe(*r));
  }
}

Status Kubelet::preparePod(const PodSpec& pod) {
  const std::string dir = runtime_.podDir(pod.namespace_, pod.name, pod.uid);
  PETREL_RETURN_IF_ERROR(volumes_.setUp(pod, dir));
  if (auto text = podResolvConf(pod, options_.dns, node_resolv_conf_)) {
    std::ofstream out(dir + "/resolv.conf", std::ios::trunc);
    out << *text;
    if (!out) return makeError(Code::kInternal, "cannot write {}/resolv.conf", dir);
  }
  return Status::ok();
}

LaunchResolver Kubelet::resolver(const PodSpec& pod, bool* config_failed) {
  return [this, &pod, config_failed](const PodRecord& r,
                                     const ContainerSpec& c) -> Result<ContainerLaunch> {
    auto fail = [&](const Status& s) -> Result<ContainerLaunch> {
      if (config_failed) *config_failed = true;
      return s;
    };
    auto svc = objects_.kubernetesService();
    if (!svc) return fail(svc.status());
    LaunchContext context;
    context.images = &options_.images;
    context.service_env = kubernetesServiceEnv(svc->ip, svc->port);
    context.pod_dir = runtime_.podDir(pod.namespace_, pod.name, pod.uid);
    const std::string resolv = context.pod_dir + "/resolv.conf";
    if (std::ifstream(resolv).good()) context.resolv_conf = resolv;
    auto launch =
        buildLaunch(pod, c, PodAddresses{r.ips, options_.runtime.node_ip}, context, objects_);
    if (!launch) return fail(launch.status());
    return launch;
  };
}

void Kubelet::syncPod(const PodSpec& pod) {
  PodRecord* record = runtime_.find(pod.uid);
  if (pod.deleting) {
    if (record) {
      runtime_.beginStop(*record, pod, pod.grace_seconds);
      if (!runtime_.stopped(*record)) return;
      if (Status s = runtime_.teardown(pod.uid); !s)
        spdlog::warn("pod {}: {}", pod.key(), s.message());
    }
    finishDeletion(pod);
    reported_.erase(pod.uid);
    volumes_.forget(pod.uid);
    return;
  }
  if (!record) {
    if (pod.phase == "Succeeded" || pod.phase == "Failed") return;
    auto now = std::chrono::steady_clock::now();
    if (auto it = retry_at_.find(pod.uid); it != retry_at_.end() && now < it->second) return;
    auto pending = [&](const char* reason, const std::string& message) {
      spdlog::warn("pod {}: {}: {}", pod.key(), reason, message);
      retry_at_[pod.uid] = now + 5s;
      reportStatus(pod, buildPendingStatus(options_.runtime.node_ip, reason, message));
    };
    if (Status s = preparePod(pod); !s) {
      std::error_code ec;
      std::filesystem::remove_all(runtime_.podDir(pod.namespace_, pod.name, pod.uid), ec);
      volumes_.forget(pod.uid);
      return pending("FailedMount", s.message());
    }
    bool config_failed = false;
    auto started = runtime_.start(pod, resolver(pod, &config_failed));
    if (!started) {
      volumes_.forget(pod.uid);  // start() removed the pod's directory
      return pending(config_failed ? "CreateContainerConfigError" : "NetworkNotReady",
                     started.status().message());
    }
    retry_at_.erase(pod.uid);
    record = *started;
  } else if (!volumes_.isSetUp(pod.uid) && !record->stopping) {
    // Adopted from a previous kubelet: its tokens are renewed from now on.
    if (Status s = preparePod(pod); !s) spdlog::warn("pod {}: {}", pod.key(), s.message());
  }
  if (Status s = volumes_.renewTokens(pod, std::chrono::system_clock::now()); !s) {
    spdlog::warn("pod {}: {}", pod.key(), s.message());
  }
  runtime_.supervise(*record, pod, resolver(pod, nullptr));
  reportStatus(pod, buildPodStatus(pod, *record, options_.runtime.node_ip));
}

void Kubelet::syncPods() {
  std::map<std::string, PodSpec> desired;
  std::set<std::string> seen;
  for (const auto& raw : pods_->cache().list()) {
    seen.insert(raw.meta.uid);
    auto pod = decodePodSpec(raw.object);
    if (!pod) {
      if (rejected_[raw.meta.uid] != raw.meta.resource_version) {
        spdlog::warn("cannot run pod {}: {}", raw.meta.key(), pod.status().message());
        rejected_[raw.meta.uid] = raw.meta.resource_version;
      }
      continue;
    }
    // A hostPath is a path on this node: where the node's own parts of the filesystem are.
    for (auto& volume : pod->volumes) {
      if (volume.kind == VolumeSpec::Kind::kHostPath) {
        volume.host_path = options_.runtime.host_paths.resolve(volume.host_path);
      }
    }
    desired.emplace(pod->uid, std::move(*pod));
  }
  // Pods the API no longer has (deleted at once, or their namespace was): stop them now.
  for (PodRecord* record : runtime_.records()) {
    if (desired.count(record->uid)) continue;
    const std::string uid = record->uid;
    if (Status s = runtime_.teardown(uid); !s) spdlog::warn("{}", s.message());
    volumes_.forget(uid);
    reported_.erase(uid);
    retry_at_.erase(uid);
  }
  for (const auto& [uid, pod] : desired) syncPod(pod);
  std::erase_if(rejected_, [&](const auto& entry) { return !seen.count(entry.first); });
}

void Kubelet::run(const std::atomic<bool>& stop) {
  runtime_.loadRecords();
  ReconcilerSet reconcilers;
  reconcilers.add(node_reconciler_, ReconcilerOptions{10s, 1s, 2s});
  reconcilers.add(pods_reconciler_, ReconcilerOptions{options_.resync, 200ms, 2s});
  pods_->start();
  reconcilers.start();
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stop.load(); });
  }
  reconcilers.stop();
  pods_->stop();
}

}  // namespace petrel::sandbox
