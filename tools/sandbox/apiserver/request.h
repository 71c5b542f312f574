// Request and Response: the HTTP-library-independent shape the API handler works on, so the
// handler can be driven directly by unit tests without sockets.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/sandbox/apiserver/registry.h"
#include "tools/sandbox/apiserver/store.h"
#include "tools/sandbox/apiserver/table.h"

namespace petrel::apiserver {

struct Request {
  std::string method;                          // GET, POST, PUT, PATCH, DELETE
  std::string path;                            // without the query string
  std::map<std::string, std::string> query;    // decoded; first value of each key
  std::map<std::string, std::string> headers;  // keys lower-case
  std::string body;

  std::string header(const std::string& lowerName) const;
  std::string param(const std::string& name) const;
};

// A watch the HTTP layer streams after the handler accepted it.
struct WatchStream {
  std::shared_ptr<Watcher> watcher;  // null when `initialError` is set
  ResourceType type;
  bool bookmarks = false;
  std::chrono::seconds timeout{0};  // 0 = until the client or the server goes away
  bool table = false;
  IncludeObject include = IncludeObject::kMetadata;
  std::optional<nlohmann::json> initialError;  // a Status sent as one ERROR event (410 Expired)
};

struct Response {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::optional<WatchStream> watch;  // when set, the body is streamed events instead
};

}  // namespace petrel::apiserver
