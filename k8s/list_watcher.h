// ListWatcher: the list-then-watch protocol for one resource: paginated list (limit/continue),
// then a watch from the list's resourceVersion with bookmarks; a 410 Gone / expired version
// relists, a closed stream re-watches from the last version seen, a stalled stream is restarted,
// errors back off with jitter. It hands raw objects to a ListWatchSink; typed caches sit behind.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace petrel::k8s {

// The two calls the protocol needs; RestClient provides them, tests replay recorded answers.
class ApiTransport {
 public:
  virtual ~ApiTransport() = default;
  virtual Result<std::pair<long, std::string>> get(const std::string& path) = 0;
  virtual Status watch(const std::string& path,
                       const std::function<bool(std::string_view)>& on_line,
                       const std::atomic<bool>& stop) = 0;
};

class ListWatchSink {
 public:
  virtual ~ListWatchSink() = default;
  // A complete list: everything not in `items` is gone (mark and sweep).
  virtual void replace(const std::vector<nlohmann::json>& items) = 0;
  virtual void upsert(const nlohmann::json& object) = 0;
  virtual void remove(const nlohmann::json& object) = 0;
};

struct ListWatchOptions {
  std::string path;            // e.g. "/api/v1/pods"
  std::string label_selector;  // optional
  std::string field_selector;  // optional, e.g. "spec.nodeName=node-1"
  int page_size = 500;
  int watch_timeout_seconds = 300;  // server-side timeout of one watch call
  // A resource the server does not serve (404: e.g. a CRD not installed yet) counts as an empty,
  // synced list, asked again every `absent_recheck` until it appears.
  bool absent_ok = false;
  std::chrono::milliseconds absent_recheck{10000};
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_cap{30000};
};

struct ListWatchStats {
  uint64_t lists = 0;  // complete lists (all pages)
  uint64_t pages = 0;  // list pages fetched (a list of N objects at limit L: ceil(N/L))
  uint64_t watches = 0;
  uint64_t events = 0;     // watch events, bookmarks included
  uint64_t bookmarks = 0;  // BOOKMARK events: the version advanced, no object delivered
  uint64_t relists_after_gone = 0;
  uint64_t errors = 0;
  std::string last_error;
  std::string resource_version;
};

class ListWatcher {
 public:
  ListWatcher(ApiTransport& transport, ListWatchSink& sink, ListWatchOptions options)
      : transport_(transport), sink_(sink), options_(std::move(options)) {}

  // Runs until `stop` is set (then returns promptly: waits are interruptible via wake()).
  void run(const std::atomic<bool>& stop);
  // Interrupts a backoff sleep (call after setting stop).
  void wake();
  ListWatchStats stats() const;
  const ListWatchOptions& options() const { return options_; }

  // Exposed for tests: one list pass (all pages). Returns the list's resourceVersion.
  Result<std::string> listAll();
  // One watch call from `rv`; sets *gone when the server said the version is too old.
  Status watchOnce(std::string& rv, bool* gone, const std::atomic<bool>& stop);

 private:
  std::string query(bool watch, const std::string& rv, const std::string& cont) const;
  void sleepFor(std::chrono::milliseconds d, const std::atomic<bool>& stop);
  void noteError(const Status& st);

  ApiTransport& transport_;
  ListWatchSink& sink_;
  ListWatchOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  ListWatchStats stats_;
};

}  // namespace petrel::k8s
