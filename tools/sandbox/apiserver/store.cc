// ObjectStore and Watcher implementation.
#include "tools/sandbox/apiserver/store.h"

#include <algorithm>

namespace petrel::apiserver {

using nlohmann::json;

namespace {
constexpr size_t kMaxQueuedEvents = 100000;  // a consumer this far behind gets its watch closed

std::string metaString(const json& object, const char* field) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object())
    return "";
  const json& m = object["metadata"];
  if (!m.contains(field) || !m[field].is_string()) return "";
  return m[field].get<std::string>();
}

void setRv(json& object, uint64_t rv) {
  object["metadata"]["resourceVersion"] = std::to_string(rv);
}
}  // namespace

std::string objectKey(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

bool WatchFilter::matches(const json& object) const {
  if (!ns.empty() && metaString(object, "namespace") != ns) return false;
  json labelsJson;
  if (object.contains("metadata") && object["metadata"].is_object() &&
      object["metadata"].contains("labels")) {
    labelsJson = object["metadata"]["labels"];
  }
  return labels.matches(labelsJson) && fields.matches(object);
}

// --- Watcher

std::optional<WatchEvent> Watcher::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || !queue_.empty(); });
  if (queue_.empty()) return std::nullopt;
  WatchEvent e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

bool Watcher::closed() {
  std::lock_guard lock(mu_);
  return closed_ && queue_.empty();
}

uint64_t Watcher::bookmarkRv() {
  std::lock_guard lock(mu_);
  return queue_.empty() ? seenRv_ : 0;
}

void Watcher::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

void Watcher::offer(const std::string& key, const std::string& type, const json& object,
                    const json& oldObject, uint64_t rv) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  seenRv_ = std::max(seenRv_, rv);
  if (key != filter_.key) return;
  bool nowMatches = type != "DELETED" && filter_.matches(object);
  bool oldMatches = false;
  if (type == "DELETED") {
    oldMatches = filter_.matches(object);
  } else if (!oldObject.is_null()) {
    oldMatches = filter_.matches(oldObject);
  }
  std::string outType;
  if (type == "ADDED") {
    if (nowMatches) outType = "ADDED";
  } else if (type == "MODIFIED") {
    if (nowMatches && oldMatches)
      outType = "MODIFIED";
    else if (nowMatches)
      outType = "ADDED";
    else if (oldMatches)
      outType = "DELETED";
  } else if (type == "DELETED") {
    if (oldMatches) outType = "DELETED";
  }
  if (outType.empty()) return;
  if (queue_.size() >= kMaxQueuedEvents) {
    closed_ = true;  // too slow: the client relists
    queue_.clear();
  } else {
    queue_.push_back(WatchEvent{outType, object, rv});
  }
  cv_.notify_all();
}

// --- ObjectStore

ObjectStore::ObjectStore(size_t eventWindow) : eventWindow_(std::max<size_t>(eventWindow, 1)) {}

ObjectStore::~ObjectStore() {
  shutdown();
}

uint64_t ObjectStore::currentRv() {
  std::lock_guard lock(mu_);
  return rv_;
}

uint64_t ObjectStore::compactedRv() {
  std::lock_guard lock(mu_);
  return compactedRv_;
}

std::optional<json> ObjectStore::get(const std::string& key, const std::string& ns,
                                     const std::string& name) {
  std::lock_guard lock(mu_);
  auto t = objects_.find(key);
  if (t == objects_.end()) return std::nullopt;
  auto o = t->second.find(objectKey(ns, name));
  if (o == t->second.end()) return std::nullopt;
  return o->second;
}

ObjectStore::ListResult ObjectStore::list(const WatchFilter& filter, size_t limit,
                                          const std::string& startAfter) {
  std::lock_guard lock(mu_);
  ListResult out;
  out.rv = rv_;
  auto t = objects_.find(filter.key);
  if (t == objects_.end()) return out;
  auto it = startAfter.empty() ? t->second.begin() : t->second.upper_bound(startAfter);
  for (; it != t->second.end(); ++it) {
    if (!filter.matches(it->second)) continue;
    if (limit != 0 && out.items.size() == limit) {
      ++out.remaining;
      continue;
    }
    out.items.push_back(it->second);
    out.lastKey = it->first;
  }
  if (out.remaining == 0) out.lastKey.clear();
  return out;
}

uint64_t ObjectStore::commitLocked(const std::string& key, const std::string& type, json& object,
                                   const json& oldObject) {
  ++rv_;
  setRv(object, rv_);
  log_.push_back(Change{rv_, key, type, object, oldObject});
  while (log_.size() > eventWindow_) {
    compactedRv_ = log_.front().rv;
    log_.pop_front();
  }
  for (const auto& w : watchers_) w->offer(key, type, object, oldObject, rv_);
  for (const auto& [id, o] : observers_) {
    if (o.key != key || !o.observer.change) continue;
    if (type == "ADDED") {
      o.observer.change(nullptr, &object);
    } else if (type == "DELETED") {
      o.observer.change(&object, nullptr);
    } else {
      o.observer.change(&oldObject, &object);
    }
  }
  return rv_;
}

void ObjectStore::notifyChanged() {
  std::function<void()> fn;
  {
    std::lock_guard lock(mu_);
    fn = onChange_;
  }
  if (fn) fn();
}

Result<json> ObjectStore::create(const std::string& key, json object) {
  std::string ns = metaString(object, "namespace");
  std::string name = metaString(object, "name");
  {
    std::lock_guard lock(mu_);
    auto& objs = objects_[key];
    std::string k = objectKey(ns, name);
    if (objs.count(k)) {
      return Status(Code::kAlreadyExists, key + " \"" + name + "\" already exists");
    }
    commitLocked(key, "ADDED", object, json());
    objs[k] = object;
  }
  notifyChanged();
  return object;
}

Result<json> ObjectStore::update(const std::string& key, const std::string& ns,
                                 const std::string& name, const Mutator& fn) {
  json updated;
  {
    std::lock_guard lock(mu_);
    auto t = objects_.find(key);
    if (t == objects_.end()) return Status(Code::kNotFound, key + " \"" + name + "\" not found");
    auto o = t->second.find(objectKey(ns, name));
    if (o == t->second.end()) {
      return Status(Code::kNotFound, key + " \"" + name + "\" not found");
    }
    auto r = fn(o->second);
    if (!r) return r.status();
    updated = std::move(*r);
    updated["metadata"]["name"] = name;
    if (!ns.empty()) updated["metadata"]["namespace"] = ns;
    json old = o->second;
    commitLocked(key, "MODIFIED", updated, old);
    o->second = updated;
  }
  notifyChanged();
  return updated;
}

Result<json> ObjectStore::remove(const std::string& key, const std::string& ns,
                                 const std::string& name,
                                 const std::function<Status(const json&)>& precheck) {
  json removed;
  {
    std::lock_guard lock(mu_);
    auto t = objects_.find(key);
    if (t == objects_.end()) return Status(Code::kNotFound, key + " \"" + name + "\" not found");
    auto o = t->second.find(objectKey(ns, name));
    if (o == t->second.end()) return Status(Code::kNotFound, key + " \"" + name + "\" not found");
    if (precheck) {
      Status s = precheck(o->second);
      if (!s) return s;
    }
    removed = std::move(o->second);
    t->second.erase(o);
    json old = removed;
    commitLocked(key, "DELETED", removed, old);
  }
  notifyChanged();
  return removed;
}

void ObjectStore::removeAll(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    auto t = objects_.find(key);
    if (t == objects_.end()) return;
    for (auto& [k, obj] : t->second) {
      json old = obj;
      commitLocked(key, "DELETED", obj, old);
    }
    objects_.erase(t);
  }
  notifyChanged();
}

void ObjectStore::removeNamespaceContents(const std::string& ns) {
  if (ns.empty()) return;
  {
    std::lock_guard lock(mu_);
    std::string prefix = ns + "/";
    for (auto& [key, objs] : objects_) {
      for (auto it = objs.lower_bound(prefix);
           it != objs.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
        json obj = std::move(it->second);
        it = objs.erase(it);
        json old = obj;
        commitLocked(key, "DELETED", obj, old);
      }
    }
  }
  notifyChanged();
}

std::vector<json> ObjectStore::all(const std::string& key) {
  std::lock_guard lock(mu_);
  std::vector<json> out;
  auto t = objects_.find(key);
  if (t == objects_.end()) return out;
  for (const auto& [k, o] : t->second) out.push_back(o);
  return out;
}

Result<std::shared_ptr<Watcher>> ObjectStore::watch(WatchFilter filter,
                                                    std::optional<uint64_t> fromRv) {
  std::lock_guard lock(mu_);
  if (shutdown_) return Status(Code::kUnavailable, "the server is shutting down");
  if (fromRv && *fromRv < compactedRv_) {
    return Status(Code::kUnavailable, "too old resource version: " + std::to_string(*fromRv) +
                                          " (" + std::to_string(compactedRv_ + 1) + ")");
  }
  auto w = std::shared_ptr<Watcher>(new Watcher(std::move(filter)));
  if (!fromRv) {
    auto t = objects_.find(w->filter_.key);
    if (t != objects_.end()) {
      for (const auto& [k, obj] : t->second) {
        if (w->filter_.matches(obj)) {
          uint64_t orv = 0;
          try {
            orv = std::stoull(metaString(obj, "resourceVersion"));
          } catch (...) {
          }
          w->queue_.push_back(WatchEvent{"ADDED", obj, orv});
        }
      }
    }
  } else {
    for (const auto& c : log_) {
      if (c.rv > *fromRv) w->offer(c.key, c.type, c.object, c.oldObject, c.rv);
    }
  }
  w->seenRv_ = rv_;
  watchers_.push_back(w);
  return w;
}

void ObjectStore::unwatch(const std::shared_ptr<Watcher>& w) {
  std::lock_guard lock(mu_);
  std::erase(watchers_, w);
  w->close();
}

void ObjectStore::shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  for (const auto& w : watchers_) w->close();
  watchers_.clear();
}

json ObjectStore::snapshot() {
  std::lock_guard lock(mu_);
  json objs = json::object();
  for (const auto& [key, m] : objects_) {
    json arr = json::array();
    for (const auto& [k, o] : m) arr.push_back(o);
    objs[key] = std::move(arr);
  }
  return {{"resourceVersion", std::to_string(rv_)}, {"objects", std::move(objs)}};
}

Status ObjectStore::restore(const json& snap) {
  if (!snap.is_object() || !snap.contains("resourceVersion") ||
      !snap["resourceVersion"].is_string() || !snap.contains("objects") ||
      !snap["objects"].is_object()) {
    return Status(Code::kInvalidArgument, "snapshot: expected {resourceVersion, objects}");
  }
  uint64_t rv = 0;
  try {
    rv = std::stoull(snap["resourceVersion"].get<std::string>());
  } catch (...) {
    return Status(Code::kInvalidArgument, "snapshot: bad resourceVersion");
  }
  std::lock_guard lock(mu_);
  objects_.clear();
  log_.clear();
  for (const auto& [key, arr] : snap["objects"].items()) {
    if (!arr.is_array()) continue;
    for (const auto& o : arr) {
      std::string name = metaString(o, "name");
      if (name.empty()) continue;
      objects_[key][objectKey(metaString(o, "namespace"), name)] = o;
    }
  }
  rv_ = rv;
  compactedRv_ = rv;
  for (const auto& [id, o] : observers_) {
    if (o.observer.reset) o.observer.reset();
    auto t = objects_.find(o.key);
    if (t == objects_.end() || !o.observer.change) continue;
    for (const auto& [k, obj] : t->second) o.observer.change(nullptr, &obj);
  }
  return Status::ok();
}

uint64_t ObjectStore::observe(const std::string& key, Observer observer) {
  std::lock_guard lock(mu_);
  uint64_t id = nextObserverId_++;
  if (observer.change) {
    auto t = objects_.find(key);
    if (t != objects_.end()) {
      for (const auto& [k, obj] : t->second) observer.change(nullptr, &obj);
    }
  }
  observers_[id] = KeyObserver{key, std::move(observer)};
  return id;
}

void ObjectStore::unobserve(uint64_t id) {
  std::lock_guard lock(mu_);
  observers_.erase(id);
}

void ObjectStore::setOnChange(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  onChange_ = std::move(fn);
}

}  // namespace petrel::apiserver
