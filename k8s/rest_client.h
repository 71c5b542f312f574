// RestClient: HTTPS requests to the Kubernetes apiserver through libcurl, with the cluster's CA,
// bearer token or client certificate. get() returns the whole body; watch() streams a response
// line by line and detects a stalled stream (no bytes for `stall_timeout`); send() writes
// (POST/PUT/PATCH/DELETE) for the sandbox's controllers.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "k8s/cluster_config.h"

namespace petrel::k8s {

struct HttpResponse {
  long status = 0;
  std::string body;
};

class RestClient {
 public:
  explicit RestClient(ClusterConfig config);
  ~RestClient();
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  const std::string& server() const { return config_.server; }

  // GET `path` (with query). UNAVAILABLE when the server cannot be reached.
  Result<HttpResponse> get(const std::string& path, std::chrono::seconds timeout) const;

  // `method` `path` with a JSON `body` (may be empty) of `content_type` (e.g.
  // "application/merge-patch+json" for PATCH). UNAVAILABLE when the server cannot be reached;
  // any HTTP answer, including errors, is returned in the response.
  Result<HttpResponse> send(const std::string& method, const std::string& path,
                            const std::string& body, std::chrono::seconds timeout,
                            const std::string& content_type = "application/json") const;

  // Streams GET `path`; `on_line` gets each newline-terminated line and returns false to stop.
  // Returns OK when the server ended the stream or on_line stopped it; UNAVAILABLE on connection
  // errors or a stall; the HTTP status of a non-200 answer is in the message.
  Status watch(const std::string& path, const std::function<bool(std::string_view)>& on_line,
               std::chrono::seconds stall_timeout, const std::atomic<bool>& stop) const;

 private:
  ClusterConfig config_;
};

// Percent-encodes a query parameter value.
std::string urlEncode(std::string_view value);

}  // namespace petrel::k8s
