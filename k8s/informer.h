// Informer<T>: a typed cache of one Kubernetes resource kept current by a ListWatcher on its own
// thread. Bad objects are logged with their name and skipped (the last good version stays).
// Handlers run on the informer's thread and must only change desired state (never BPF maps).
// A relist calls handlers only for what changed, so a resync never makes the datapath flap.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "k8s/list_watcher.h"
#include "k8s/objects.h"

namespace petrel::k8s {

template <typename T>
class InformerCache : public ListWatchSink {
 public:
  using Decode = std::function<Result<T>(const nlohmann::json&)>;
  struct Handlers {
    std::function<void(const T&)> on_upsert;  // added or changed
    std::function<void(const T&)> on_delete;  // gone; gets the last good version
  };

  InformerCache(std::string kind, Decode decode, Handlers handlers = {})
      : kind_(std::move(kind)), decode_(std::move(decode)), handlers_(std::move(handlers)) {}

  void replace(const std::vector<nlohmann::json>& items) override {
    std::map<std::string, T> next;
    std::vector<T> upserts;
    std::vector<T> deletes;
    {
      std::lock_guard lock(mu_);
      for (const auto& item : items) {
        auto obj = decode_(item);
        if (!obj) {
          rejectLocked(obj.status());
          // Keep the last good version of an object that turned bad rather than dropping it.
          auto key = keyOf(item);
          if (key && objects_.count(*key)) next.emplace(*key, objects_.at(*key));
          continue;
        }
        const std::string key = obj->meta.key();
        auto old = objects_.find(key);
        if (old == objects_.end() ||
            old->second.meta.resource_version != obj->meta.resource_version) {
          upserts.push_back(*obj);
        }
        next.emplace(key, std::move(*obj));
      }
      for (const auto& [key, obj] : objects_) {
        if (!next.count(key)) deletes.push_back(obj);
      }
      objects_ = std::move(next);
      synced_ = true;
    }
    for (const auto& obj : deletes) call(handlers_.on_delete, obj);
    for (const auto& obj : upserts) call(handlers_.on_upsert, obj);
  }

  void upsert(const nlohmann::json& item) override {
    auto obj = decode_(item);
    if (!obj) {
      reject(obj.status());
      return;
    }
    {
      std::lock_guard lock(mu_);
      objects_.insert_or_assign(obj->meta.key(), *obj);
    }
    call(handlers_.on_upsert, *obj);
  }

  void remove(const nlohmann::json& item) override {
    auto key = keyOf(item);
    if (!key) return;
    std::optional<T> last;
    {
      std::lock_guard lock(mu_);
      auto it = objects_.find(*key);
      if (it == objects_.end()) return;
      last = std::move(it->second);
      objects_.erase(it);
    }
    call(handlers_.on_delete, *last);
  }

  bool synced() const {
    std::lock_guard lock(mu_);
    return synced_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return objects_.size();
  }
  uint64_t rejected() const {
    std::lock_guard lock(mu_);
    return rejected_;
  }
  std::optional<T> get(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<T> list() const {
    std::lock_guard lock(mu_);
    std::vector<T> out;
    for (const auto& [key, obj] : objects_) out.push_back(obj);
    return out;
  }
  const std::string& kind() const { return kind_; }

 private:
  static std::optional<std::string> keyOf(const nlohmann::json& item) {
    auto meta = decodeMeta(item, false);
    if (!meta) return std::nullopt;
    return meta->key();
  }
  void reject(const Status& st) {
    std::lock_guard lock(mu_);
    rejectLocked(st);
  }
  void rejectLocked(const Status& st) {
    ++rejected_;
    spdlog::warn("skipping bad {}: {}", kind_, st.message());
  }
  void call(const std::function<void(const T&)>& fn, const T& obj) {
    if (fn) fn(obj);
  }

  std::string kind_;
  Decode decode_;
  Handlers handlers_;
  mutable std::mutex mu_;
  std::map<std::string, T> objects_;
  bool synced_ = false;
  uint64_t rejected_ = 0;
};

// What `petrel status` shows per informer.
struct InformerStatus {
  std::string kind;
  bool synced = false;
  size_t objects = 0;
  uint64_t rejected = 0;
  ListWatchStats stats;
};

// A cache plus the ListWatcher thread that fills it.
template <typename T>
class Informer {
 public:
  Informer(ApiTransport& transport, ListWatchOptions options, std::string kind,
           typename InformerCache<T>::Decode decode,
           typename InformerCache<T>::Handlers handlers = {})
      : cache_(std::move(kind), std::move(decode), std::move(handlers)),
        watcher_(transport, cache_, std::move(options)) {}
  ~Informer() { stop(); }
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void start() {
    thread_ = std::thread([this] { watcher_.run(stop_); });
  }
  void stop() {
    stop_ = true;
    watcher_.wake();
    if (thread_.joinable()) thread_.join();
  }
  const InformerCache<T>& cache() const { return cache_; }
  InformerStatus status() const {
    return {cache_.kind(), cache_.synced(), cache_.size(), cache_.rejected(), watcher_.stats()};
  }

 private:
  InformerCache<T> cache_;
  ListWatcher watcher_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace petrel::k8s
