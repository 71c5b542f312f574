// ListWatcher: list with pagination, watch with bookmarks, relist on 410, backoff on errors.
#include "k8s/list_watcher.h"

#include <malloc.h>

#include <spdlog/spdlog.h>

#include "k8s/backoff.h"
#include "k8s/rest_client.h"

namespace petrel::k8s {

namespace {

// Kubernetes objects nest a few dozen levels at most. Deeper parts of an answer are dropped
// while parsing (nlohmann's parser itself does not recurse), so no hostile answer can build a
// tree whose copy or destruction would overflow the stack; the decoders then see the field as
// missing and reject the object with its name.
constexpr int kMaxDepth = 64;

using nlohmann::json;

json parseBounded(std::string_view text) {
  return json::parse(
      text,
      [](int depth, json::parse_event_t event, json&) {
        return depth <= kMaxDepth || (event != json::parse_event_t::object_start &&
                                      event != json::parse_event_t::array_start);
      },
      false);
}

}  // namespace

using nlohmann::json;

std::string ListWatcher::query(bool watch, const std::string& rv, const std::string& cont) const {
  std::string q = options_.path + "?";
  if (watch) {
    q += "watch=1&allowWatchBookmarks=true&timeoutSeconds=" +
         std::to_string(options_.watch_timeout_seconds) + "&resourceVersion=" + urlEncode(rv);
  } else {
    q += "limit=" + std::to_string(options_.page_size);
    if (!cont.empty()) q += "&continue=" + urlEncode(cont);
  }
  if (!options_.label_selector.empty()) q += "&labelSelector=" + urlEncode(options_.label_selector);
  if (!options_.field_selector.empty()) q += "&fieldSelector=" + urlEncode(options_.field_selector);
  return q;
}

void ListWatcher::noteError(const Status& st) {
  std::lock_guard lock(mu_);
  stats_.errors++;
  stats_.last_error = st.message();
}

Result<std::string> ListWatcher::listAll() {
  std::vector<json> items;
  std::string cont;
  std::string rv;
  do {
    auto resp = transport_.get(query(false, "", cont));
    if (!resp) return resp.status();
    auto& [code, body] = *resp;
    if (code == 410) {
      // The continue token expired mid-list: start over.
      items.clear();
      cont.clear();
      return makeError(Code::kUnavailable, "list {}: continue token expired, relisting",
                       options_.path);
    }
    if (code == 404 && options_.absent_ok) {
      return makeError(Code::kNotFound, "list {}: not served (its CRD is not installed?)",
                       options_.path);
    }
    if (code != 200) {
      return makeError(code == 401 || code == 403 ? Code::kPermissionDenied : Code::kUnavailable,
                       "list {}: HTTP {}: {}", options_.path, code, body.substr(0, 300));
    }
    json doc = parseBounded(body);
    if (doc.is_discarded() || !doc.is_object()) {
      return makeError(Code::kInvalidArgument, "list {}: the answer is not a JSON object",
                       options_.path);
    }
    const json& meta =
        doc.contains("metadata") && doc["metadata"].is_object() ? doc["metadata"] : json::object();
    rv = meta.contains("resourceVersion") && meta["resourceVersion"].is_string()
             ? meta["resourceVersion"].get<std::string>()
             : "";
    cont = meta.contains("continue") && meta["continue"].is_string()
               ? meta["continue"].get<std::string>()
               : "";
    if (doc.contains("items") && doc["items"].is_array()) {
      for (auto& item : doc["items"]) items.push_back(std::move(item));
    }
    std::lock_guard lock(mu_);
    stats_.pages++;
  } while (!cont.empty());
  sink_.replace(items);
  std::lock_guard lock(mu_);
  stats_.lists++;
  stats_.resource_version = rv;
  return rv;
}

Status ListWatcher::watchOnce(std::string& rv, bool* gone, const std::atomic<bool>& stop) {
  *gone = false;
  Status event_error;
  auto on_line = [&](std::string_view line) {
    json ev = parseBounded(line);
    if (ev.is_discarded() || !ev.is_object() || !ev.contains("type") || !ev["type"].is_string()) {
      event_error = makeError(Code::kInvalidArgument, "watch {}: malformed event", options_.path);
      return false;
    }
    std::string type = ev["type"].get<std::string>();
    const json& obj = ev.contains("object") ? ev["object"] : json();
    if (type == "ERROR") {
      int code = obj.is_object() && obj.contains("code") && obj["code"].is_number_integer()
                     ? obj["code"].get<int>()
                     : 0;
      if (code == 410) {
        *gone = true;
      } else {
        event_error = makeError(Code::kUnavailable, "watch {}: error event: {}", options_.path,
                                obj.dump().substr(0, 300));
      }
      return false;
    }
    if (!obj.is_object()) {
      event_error =
          makeError(Code::kInvalidArgument, "watch {}: event without an object", options_.path);
      return false;
    }
    std::string obj_rv;
    if (obj.contains("metadata") && obj["metadata"].is_object() &&
        obj["metadata"].contains("resourceVersion") &&
        obj["metadata"]["resourceVersion"].is_string()) {
      obj_rv = obj["metadata"]["resourceVersion"].get<std::string>();
    }
    if (type == "ADDED" || type == "MODIFIED") {
      sink_.upsert(obj);
    } else if (type == "DELETED") {
      sink_.remove(obj);
    } else if (type != "BOOKMARK") {
      spdlog::warn("watch {}: ignoring event type {}", options_.path, type);
    }
    if (!obj_rv.empty()) rv = obj_rv;
    std::lock_guard lock(mu_);
    stats_.events++;
    if (type == "BOOKMARK") stats_.bookmarks++;
    stats_.resource_version = rv;
    return true;
  };
  {
    std::lock_guard lock(mu_);
    stats_.watches++;
  }
  Status st = transport_.watch(query(true, rv, ""), on_line, stop);
  if (*gone || (st.code() == Code::kFailedPrecondition)) {
    *gone = true;
    return Status::ok();
  }
  if (!event_error.isOk()) return event_error;
  return st;
}

void ListWatcher::sleepFor(std::chrono::milliseconds d, const std::atomic<bool>& stop) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stop.load(); });
}

void ListWatcher::wake() {
  cv_.notify_all();
}

void ListWatcher::run(const std::atomic<bool>& stop) {
  Backoff backoff(options_.backoff_base, options_.backoff_cap);
  while (!stop) {
    auto rv = listAll();
    if (!rv && rv.status().code() == Code::kNotFound) {
      sink_.replace({});
      sleepFor(options_.absent_recheck, stop);
      continue;
    }
    if (!rv) {
      noteError(rv.status());
      auto delay = backoff.next();
      spdlog::warn("{} (retrying in {} ms)", rv.status().message(), delay.count());
      sleepFor(delay, stop);
      continue;
    }
    backoff.reset();
    // A list parses whole pages into JSON trees and frees them; hand that memory back instead
    // of keeping the high-water mark of the largest list as resident memory.
    malloc_trim(0);
    std::string version = *rv;
    while (!stop) {
      bool gone = false;
      Status st = watchOnce(version, &gone, stop);
      if (stop) return;
      if (gone) {
        spdlog::info("watch {}: resourceVersion {} expired, relisting", options_.path, version);
        std::lock_guard lock(mu_);
        stats_.relists_after_gone++;
        break;
      }
      if (st.isOk()) {
        backoff.reset();  // the server closed a healthy stream: watch again from where we are
        continue;
      }
      noteError(st);
      auto delay = backoff.next();
      spdlog::warn("{} (re-watching in {} ms)", st.message(), delay.count());
      sleepFor(delay, stop);
      if (backoff.attempts() > 5) break;  // long trouble: relist to be sure nothing was missed
    }
  }
}

ListWatchStats ListWatcher::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace petrel::k8s
