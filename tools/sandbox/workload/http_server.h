// petrel-workload's HTTP listener (cpp-httplib): "/" names the pod, "/json" shows what the
// backend saw (client and server address, path, headers), plus /healthz, /status/<code> and
// /delay/<ms> for retry and timeout tests and /bytes/<n> for large responses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace petrel::workload {

class HttpServer {
 public:
  explicit HttpServer(std::string name);
  ~HttpServer();  // stops and joins
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds bind:port; a taken port gives "port 8080 in use: Address already in use".
  Status bind(const std::string& bind, uint16_t port);
  // Serves on a thread of its own until stop().
  void start();
  // Stops listening, wakes requests sleeping in /delay and waits for the serving thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace petrel::workload
