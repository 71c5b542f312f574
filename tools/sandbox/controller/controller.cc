// Controller wiring: informers -> dirty set -> debounced scheduling and slice reconciliation.
#include "tools/sandbox/controller/controller.h"

#include <spdlog/spdlog.h>

#include <future>
#include <thread>

#include "tools/sandbox/controller/endpoint_slices.h"
#include "tools/sandbox/controller/object_fields.h"
#include "tools/sandbox/controller/slice_sync.h"

namespace petrel::controller {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr int kConflictRetries = 5;
const std::string kDiscoveryV1 = "/apis/discovery.k8s.io/v1";

std::string slicesPath(const std::string& ns) {
  return kDiscoveryV1 + "/namespaces/" + ns + "/endpointslices";
}

std::string managedSelector() {
  return std::string(kManagedByLabel) + "=" + kManagedBy;
}

// "ns/name" of the Service a managed slice belongs to ("" when it names none).
std::string sliceServiceKey(const RawObject& slice) {
  auto it = slice.meta.labels.find(kServiceNameLabel);
  if (it == slice.meta.labels.end() || it->second.empty()) return "";
  return slice.meta.namespace_ + "/" + it->second;
}

// A short reason from an API error answer for the log.
std::string describe(const k8s::HttpResponse& r) {
  json s = json::parse(r.body, nullptr, false);
  std::string msg = s.is_object() ? stringAt(s, {"message"}) : "";
  return "HTTP " + std::to_string(r.status) + (msg.empty() ? "" : ": " + msg);
}

// SliceApi over the REST client.
class RestSliceApi : public SliceApi {
 public:
  explicit RestSliceApi(const k8s::RestClient& client) : client_(client) {}

  Result<std::vector<json>> list(const std::string& ns, const std::string& service) override {
    auto r = client_.get(slicesPath(ns) + "?labelSelector=" +
                             k8s::urlEncode(std::string(kServiceNameLabel) + "=" + service + "," +
                                            managedSelector()),
                         kRequestTimeout);
    if (!r) return r.status();
    if (r->status != 200) return Status(Code::kUnavailable, describe(*r));
    json list = json::parse(r->body, nullptr, false);
    std::vector<json> items;
    if (list.is_object() && list.contains("items") && list["items"].is_array()) {
      for (auto& item : list["items"]) items.push_back(std::move(item));
    }
    return items;
  }
  WriteOutcome create(const json& slice, std::string* name) override {
    auto r = client_.send("POST", slicesPath(stringAt(slice, {"metadata", "namespace"})),
                          slice.dump(), kRequestTimeout);
    WriteOutcome o =
        outcome(r, "create endpointslice for " + stringAt(slice, {"metadata", "generateName"}));
    if (o == WriteOutcome::kDone) {
      *name = stringAt(json::parse(r->body, nullptr, false), {"metadata", "name"});
    }
    return o;
  }
  WriteOutcome update(const json& slice) override {
    return outcome(client_.send("PUT", itemPath(slice), slice.dump(), kRequestTimeout),
                   "update endpointslice " + itemPath(slice));
  }
  WriteOutcome remove(const json& slice) override {
    json opts = {
        {"kind", "DeleteOptions"},
        {"apiVersion", "v1"},
        {"preconditions", {{"resourceVersion", stringAt(slice, {"metadata", "resourceVersion"})}}}};
    return outcome(client_.send("DELETE", itemPath(slice), opts.dump(), kRequestTimeout),
                   "delete endpointslice " + itemPath(slice));
  }

 private:
  static std::string itemPath(const json& slice) {
    return slicesPath(stringAt(slice, {"metadata", "namespace"})) + "/" +
           stringAt(slice, {"metadata", "name"});
  }
  static WriteOutcome outcome(const Result<k8s::HttpResponse>& r, const std::string& what) {
    if (r && r->status >= 200 && r->status < 300) return WriteOutcome::kDone;
    if (r && r->status == 409) return WriteOutcome::kConflict;
    if (r && r->status == 404) return WriteOutcome::kGone;
    spdlog::warn("{}: {}", what, r ? describe(*r) : r.status().message());
    return WriteOutcome::kFailed;
  }

  const k8s::RestClient& client_;
};

}  // namespace

Controller::Controller(k8s::ClusterConfig config, ControllerOptions options)
    : client_(std::move(config)), transport_(client_, std::chrono::seconds(90)), options_(options) {
  nodes_ = informer(
      "nodes", "/api/v1/nodes", "", false,
      {[this](const RawObject&) { markSchedule(); }, [this](const RawObject&) { markSchedule(); }});
  pods_ = informer("pods", "/api/v1/pods", "", true,
                   {[this](const RawObject& pod) {
                      markNamespace(pod.meta.namespace_);
                      bool pending = needsScheduling(pod.object);
                      {
                        std::lock_guard lock(mu_);
                        if (!pending) {
                          bindingSent_.erase(pod.meta.key());
                          reportedUnschedulable_.erase(pod.meta.key());
                        }
                      }
                      if (pending) markSchedule();
                    },
                    [this](const RawObject& pod) {
                      markNamespace(pod.meta.namespace_);
                      std::lock_guard lock(mu_);
                      bindingSent_.erase(pod.meta.key());
                      reportedUnschedulable_.erase(pod.meta.key());
                    }});
  services_ = informer("services", "/api/v1/services", "", true,
                       {[this](const RawObject& s) { markService(s.meta.key()); },
                        [this](const RawObject& s) { markService(s.meta.key()); }});
  slices_ = informer("endpointslices", kDiscoveryV1 + "/endpointslices", managedSelector(), true,
                     {[this](const RawObject& s) { markService(sliceServiceKey(s)); },
                      [this](const RawObject& s) { markService(sliceServiceKey(s)); }});
}

Controller::~Controller() {
  stopInformers();
}

std::unique_ptr<k8s::Informer<RawObject>> Controller::informer(const std::string& kind,
                                                               const std::string& path,
                                                               const std::string& labelSelector,
                                                               bool namespaced,
                                                               Cache::Handlers handlers) {
  k8s::ListWatchOptions o;
  o.path = path;
  o.label_selector = labelSelector;
  auto decode = [namespaced](const json& obj) -> Result<RawObject> {
    auto meta = k8s::decodeMeta(obj, namespaced);
    if (!meta) return meta.status();
    return RawObject{std::move(*meta), obj};
  };
  return std::make_unique<k8s::Informer<RawObject>>(transport_, o, kind, decode,
                                                    std::move(handlers));
}

void Controller::markService(const std::string& key) {
  if (key.empty()) return;
  {
    std::lock_guard lock(mu_);
    dirtyServices_.insert(key);
    ++events_;
  }
  cv_.notify_all();
}

void Controller::markNamespace(const std::string& ns) {
  {
    std::lock_guard lock(mu_);
    dirtyNamespaces_.insert(ns);
    ++events_;
  }
  cv_.notify_all();
}

void Controller::markSchedule() {
  {
    std::lock_guard lock(mu_);
    scheduleDirty_ = true;
    ++events_;
  }
  cv_.notify_all();
}

void Controller::markEverything() {
  for (const auto& s : services_->cache().list()) markService(s.meta.key());
  // Slices of Services that are gone (also those a previous run left behind).
  for (const auto& s : slices_->cache().list()) markService(sliceServiceKey(s));
  markSchedule();
}

void Controller::wake() {
  cv_.notify_all();
}

bool Controller::synced() const {
  return nodes_->cache().synced() && pods_->cache().synced() && services_->cache().synced() &&
         slices_->cache().synced();
}

void Controller::stopInformers() {
  // Each stop waits for its watch to notice; stop them side by side.
  std::vector<std::future<void>> done;
  for (auto* inf : {nodes_.get(), pods_.get(), services_.get(), slices_.get()}) {
    if (inf) done.push_back(std::async(std::launch::async, [inf] { inf->stop(); }));
  }
  for (auto& f : done) f.wait();
}

void Controller::run(const std::atomic<bool>& stop) {
  for (auto* inf : {nodes_.get(), pods_.get(), services_.get(), slices_.get()}) inf->start();
  while (!stop && !synced()) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 50ms);
  }
  if (!stop) spdlog::info("caches synced; scheduling and reconciling EndpointSlices");
  markEverything();
  auto lastFull = std::chrono::steady_clock::now();
  while (!stop) {
    std::set<std::string> services;
    std::set<std::string> namespaces;  // pods changed here: every Service of it is dirty
    bool schedule = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, 1s, [&] {
        return stop || !dirtyServices_.empty() || !dirtyNamespaces_.empty() || scheduleDirty_;
      });
      if (stop) break;
      if (dirtyServices_.empty() && dirtyNamespaces_.empty() && !scheduleDirty_) {
        if (std::chrono::steady_clock::now() - lastFull < options_.resync) continue;
        lock.unlock();
        markEverything();
        lastFull = std::chrono::steady_clock::now();
        continue;
      }
      // Debounce: wait for the burst to go quiet (bounded), so 1000 new pods cost one pass.
      auto first = std::chrono::steady_clock::now();
      uint64_t seen = events_;
      while (!stop && std::chrono::steady_clock::now() - first < options_.maxDelay) {
        cv_.wait_for(lock, options_.debounce);
        if (events_ == seen) break;
        seen = events_;
      }
      if (stop) break;
      services.swap(dirtyServices_);
      namespaces.swap(dirtyNamespaces_);
      schedule = scheduleDirty_;
      scheduleDirty_ = false;
    }
    if (schedule) schedulePass();
    if (!namespaces.empty()) {
      for (const auto& svc : services_->cache().list()) {
        if (namespaces.count(svc.meta.namespace_)) services.insert(svc.meta.key());
      }
    }
    std::map<std::string, std::vector<json>> podsByNs;
    if (!services.empty()) {
      for (auto& p : pods_->cache().list()) podsByNs[p.meta.namespace_].push_back(p.object);
    }
    bool failed = false;
    for (const auto& key : services) {
      if (stop) break;
      if (!reconcileService(key, podsByNs)) {
        failed = true;
        std::lock_guard lock(mu_);
        dirtyServices_.insert(key);
      }
    }
    if (failed) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, 1s, [&] { return stop.load(); });
    }
  }
  stopInformers();
}

void Controller::schedulePass() {
  std::vector<json> nodeObjects;
  for (auto& n : nodes_->cache().list()) nodeObjects.push_back(std::move(n.object));
  std::vector<std::string> nodes = schedulableNodes(nodeObjects);
  bool retry = false;
  for (const auto& pod : pods_->cache().list()) {
    if (!needsScheduling(pod.object)) continue;
    const std::string key = pod.meta.key();
    {
      std::lock_guard lock(mu_);
      auto sent = bindingSent_.find(key);
      if (sent != bindingSent_.end() && sent->second == pod.meta.uid) continue;
      if (nodes.empty()) {
        if (reportedUnschedulable_.insert(key).second) {
          spdlog::info("no ready node for {}; leaving it Pending", key);
        }
        continue;
      }
    }
    std::string node = roundRobin_.next(nodes);
    auto r = client_.send(
        "POST", "/api/v1/namespaces/" + pod.meta.namespace_ + "/pods/" + pod.meta.name + "/binding",
        bindingFor(pod.object, node).dump(), kRequestTimeout);
    if (r && (r->status == 201 || r->status == 200)) {
      spdlog::info("bound {} to {}", key, node);
    } else if (r && (r->status == 409 || r->status == 404)) {
      spdlog::debug("binding {}: {} (bound or deleted meanwhile)", key, describe(*r));
    } else {
      spdlog::warn("binding {} to {}: {}", key, node, r ? describe(*r) : r.status().message());
      retry = true;
      continue;
    }
    std::lock_guard lock(mu_);
    bindingSent_[key] = pod.meta.uid;
    reportedUnschedulable_.erase(key);
  }
  if (retry) markSchedule();
}

bool Controller::reconcileService(const std::string& key,
                                  const std::map<std::string, std::vector<json>>& podsByNs) {
  static const std::vector<json> kNoPods;
  const std::string ns = key.substr(0, key.find('/'));
  const std::string name = key.substr(key.find('/') + 1);
  auto cached = services_->cache().get(key);
  auto pods = podsByNs.find(ns);
  RestSliceApi api(client_);
  return syncServiceSlices(api, ns, name, cached ? cached->object : json(),
                           pods == podsByNs.end() ? kNoPods : pods->second, kConflictRetries);
}

}  // namespace petrel::controller
