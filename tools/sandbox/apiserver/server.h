// Server: the HTTPS front end. Binds 127.0.0.1 with cpp-httplib (TLS from the credentials),
// turns httplib requests into Handler requests, and streams watches as chunked
// newline-delimited JSON with periodic bookmarks.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "tools/sandbox/apiserver/handler.h"

namespace httplib {
class Server;
}

namespace petrel::apiserver {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;          // 0 = pick a free port
  std::string certFile;  // empty = plain HTTP (tests only)
  std::string keyFile;
  size_t threads = 128;  // enough for many concurrent watches
  std::chrono::seconds bookmarkInterval{15};
  // Pending connections the kernel queues (capped by net.core.somaxconn); cpp-httplib's own
  // default of 5 overflows when many clients connect at once (each overflow a 1 s SYN retry).
  int listenBacklog = 4096;
  // Requests served on one kept-alive connection before it is closed, and how long an idle one
  // is kept (an idle connection holds a worker thread).
  size_t keepAliveMaxCount = 1000;
  std::chrono::seconds keepAliveTimeout{5};
  bool logRequests = false;
};

class Server {
 public:
  Server(Handler& handler, ServerOptions options);
  ~Server();

  // Binds the socket; returns the port.
  Result<int> bind();
  // Serves until stop(); blocks.
  void serve();
  // Ends watches and makes serve() return.
  void stop();

 private:
  Handler& handler_;
  ServerOptions options_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> listenFd_{-1};  // recorded by the socket options hook
};

}  // namespace petrel::apiserver
