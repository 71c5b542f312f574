// ObjectStore: every API object in memory, one global monotonically increasing resourceVersion
// (like etcd's revision), a bounded log of recent changes, and watch fan-out from any retained
// resourceVersion. Errors are Status values whose codes the HTTP layer maps to API reasons:
// kNotFound -> 404, kAlreadyExists -> 409 AlreadyExists, kFailedPrecondition -> 409 Conflict,
// kUnavailable -> 410 Expired (resourceVersion older than the retained window).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tools/sandbox/apiserver/selector.h"

namespace petrel::apiserver {

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED
  nlohmann::json object;
  uint64_t rv = 0;
};

// What a watch wants to see: one storage key, optionally one namespace, optional selectors.
struct WatchFilter {
  std::string key;
  std::string ns;  // "" = all namespaces
  LabelSelector labels;
  FieldSelector fields;
  bool matches(const nlohmann::json& object) const;
};

class ObjectStore;

// One watch stream's queue. Owned jointly by the store (while registered) and the consumer.
class Watcher {
 public:
  // Waits up to `timeout` for the next event. nullopt on timeout or when closed.
  std::optional<WatchEvent> next(std::chrono::milliseconds timeout);
  bool closed();
  // A resourceVersion suitable for a BOOKMARK: every event for this watch up to it has been
  // returned by next(). 0 when events are still queued.
  uint64_t bookmarkRv();
  void close();

 private:
  friend class ObjectStore;
  explicit Watcher(WatchFilter filter) : filter_(std::move(filter)) {}
  // Called by the store, under its lock, for every committed change.
  void offer(const std::string& key, const std::string& type, const nlohmann::json& object,
             const nlohmann::json& oldObject, uint64_t rv);

  WatchFilter filter_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> queue_;
  uint64_t seenRv_ = 0;
  bool closed_ = false;
};

class ObjectStore {
 public:
  // `eventWindow` = how many recent changes are kept for watches that start in the past.
  explicit ObjectStore(size_t eventWindow = 10000);
  ~ObjectStore();

  uint64_t currentRv();
  // Changes with a resourceVersion above this are retained; older starting points are expired.
  uint64_t compactedRv();

  std::optional<nlohmann::json> get(const std::string& key, const std::string& ns,
                                    const std::string& name);

  struct ListResult {
    std::vector<nlohmann::json> items;
    uint64_t rv = 0;
    std::string lastKey;   // set when more matching items follow (for the continue token)
    size_t remaining = 0;  // matching items after this page
  };
  // Objects of `key` in `ns` ("" = all), sorted by namespace/name, after `startAfter` (a key
  // returned as lastKey), at most `limit` (0 = unlimited).
  ListResult list(const WatchFilter& filter, size_t limit, const std::string& startAfter);

  // Stores a new object (metadata.name/namespace already set); sets metadata.resourceVersion.
  Result<nlohmann::json> create(const std::string& key, nlohmann::json object);
  // Read-modify-write under the store lock: `fn` gets the current object (never null) and
  // returns the new one or an error. The store sets the new resourceVersion.
  using Mutator = std::function<Result<nlohmann::json>(const nlohmann::json& current)>;
  Result<nlohmann::json> update(const std::string& key, const std::string& ns,
                                const std::string& name, const Mutator& fn);
  // Deletes one object; `precheck` (optional) may refuse. Returns the deleted object with the
  // deletion's resourceVersion.
  Result<nlohmann::json> remove(const std::string& key, const std::string& ns,
                                const std::string& name,
                                const std::function<Status(const nlohmann::json&)>& precheck = {});
  // Deletes every object stored under `key` (a CRD's instances).
  void removeAll(const std::string& key);
  // Deletes every namespaced object in namespace `ns`.
  void removeNamespaceContents(const std::string& ns);
  // Objects under `key` in every namespace (for allocators like service cluster IPs).
  std::vector<nlohmann::json> all(const std::string& key);

  // Starts a watch. `fromRv` = nullopt: synthetic ADDED events for the current objects first,
  // then live changes. `fromRv` = N: every change after N (kUnavailable if N is older than the
  // retained window).
  Result<std::shared_ptr<Watcher>> watch(WatchFilter filter, std::optional<uint64_t> fromRv);
  void unwatch(const std::shared_ptr<Watcher>& w);

  // Ends every watch; later watches fail.
  void shutdown();

  // Persistence: the whole state as JSON, and loading it into an empty store.
  nlohmann::json snapshot();
  Status restore(const nlohmann::json& snapshot);
  // Called (outside the lock) after every committed change.
  void setOnChange(std::function<void()> fn);

  // An index kept next to the store (e.g. the Service allocations): told, under the store lock,
  // about every committed change of objects under one key (`before` = nullptr for an added
  // object, `after` = nullptr for a deleted one) and about restore() (reset, then one change
  // per loaded object). Must not call into the store.
  struct Observer {
    std::function<void()> reset;
    std::function<void(const nlohmann::json* before, const nlohmann::json* after)> change;
  };
  // Registers `observer` for `key` and replays the objects stored now (as additions). Returns
  // an id for unobserve().
  uint64_t observe(const std::string& key, Observer observer);
  void unobserve(uint64_t id);

 private:
  struct Change {
    uint64_t rv;
    std::string key;
    std::string type;
    nlohmann::json object;
    nlohmann::json oldObject;
  };
  // Commit a change: bump rv, log it, offer it to watchers. Caller holds mu_.
  uint64_t commitLocked(const std::string& key, const std::string& type, nlohmann::json& object,
                        const nlohmann::json& oldObject);
  void notifyChanged();

  std::mutex mu_;
  size_t eventWindow_;
  uint64_t rv_ = 0;
  uint64_t compactedRv_ = 0;  // every change with rv > compactedRv_ is in log_
  std::map<std::string, std::map<std::string, nlohmann::json>> objects_;  // key -> "ns/name"
  std::deque<Change> log_;
  std::vector<std::shared_ptr<Watcher>> watchers_;
  bool shutdown_ = false;
  std::function<void()> onChange_;
  struct KeyObserver {
    std::string key;
    Observer observer;
  };
  std::map<uint64_t, KeyObserver> observers_;
  uint64_t nextObserverId_ = 1;
};

// "ns/name" (ns empty for cluster-scoped objects).
std::string objectKey(const std::string& ns, const std::string& name);

}  // namespace petrel::apiserver
