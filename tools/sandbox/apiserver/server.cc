// httplib glue and watch streaming.
#include "tools/sandbox/apiserver/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace petrel::apiserver {

namespace {

Request toRequest(const httplib::Request& in) {
  Request r;
  r.method = in.method;
  r.path = in.path;
  for (const auto& [k, v] : in.params) r.query.emplace(k, v);
  for (const auto& [k, v] : in.headers) {
    std::string lower;
    for (char c : k) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace(lower, v);
  }
  r.body = in.body;
  return r;
}

struct WatchState {
  WatchStream stream;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::steady_clock::time_point lastBookmark;
  bool errorSent = false;
};

}  // namespace

Server::Server(Handler& handler, ServerOptions options)
    : handler_(handler), options_(std::move(options)) {
  if (!options_.certFile.empty()) {
    http_ =
        std::make_unique<httplib::SSLServer>(options_.certFile.c_str(), options_.keyFile.c_str());
  } else {
    http_ = std::make_unique<httplib::Server>();
  }
  size_t threads = options_.threads;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(16 * 1024 * 1024);
  // Replies go out as several writes (headers, body): without TCP_NODELAY the second waits for
  // the client's delayed ACK, ~40 ms per request on a kept-alive connection. Linux hands the
  // listening socket's TCP_NODELAY down to accepted sockets.
  http_->set_tcp_nodelay(true);
  // httplib calls this for the listening socket only, before bind and listen; it replaces the
  // library's default hook, which sets SO_REUSEADDR.
  http_->set_socket_options([this](int sock) {
    int one = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    listenFd_ = sock;
  });
  http_->set_keep_alive_max_count(options_.keepAliveMaxCount);
  // An idle keep-alive connection holds a worker thread: keep that short.
  http_->set_keep_alive_timeout(options_.keepAliveTimeout.count());
  http_->set_read_timeout(60);
  http_->set_write_timeout(10);

  auto serve = [this](const httplib::Request& in, httplib::Response& out) {
    Request req = toRequest(in);
    Response resp = handler_.handle(req);
    if (options_.logRequests) {
      spdlog::info("{} {} -> {}{}", in.method, in.target, resp.status,
                   resp.watch ? " (watch)" : "");
    }
    out.status = resp.status;
    out.set_header("Cache-Control", "no-cache, private");
    if (!resp.watch) {
      out.set_content(resp.body, resp.contentType.c_str());
      return;
    }
    auto state = std::make_shared<WatchState>();
    state->stream = std::move(*resp.watch);
    auto now = std::chrono::steady_clock::now();
    state->deadline = state->stream.timeout.count() > 0
                          ? now + state->stream.timeout
                          : std::chrono::steady_clock::time_point::max();
    state->lastBookmark = now;
    out.set_chunked_content_provider(
        // A content type with parameters keeps httplib from gzip-buffering the stream.
        "application/json;stream=watch",
        [this, state](size_t, httplib::DataSink& sink) -> bool {
          WatchStream& ws = state->stream;
          if (ws.initialError) {
            std::string line =
                nlohmann::json{{"type", "ERROR"}, {"object", *ws.initialError}}.dump() + "\n";
            sink.write(line.data(), line.size());
            sink.done();
            return true;
          }
          if (stopping_ || std::chrono::steady_clock::now() >= state->deadline ||
              ws.watcher->closed()) {
            sink.done();
            return true;
          }
          std::string batch;
          auto ev = ws.watcher->next(std::chrono::milliseconds(500));
          while (ev) {
            batch += handler_.encodeEvent(ws, *ev);
            if (batch.size() > 256 * 1024) break;
            ev = ws.watcher->next(std::chrono::milliseconds(0));
          }
          auto now2 = std::chrono::steady_clock::now();
          if (batch.empty() && ws.bookmarks &&
              now2 - state->lastBookmark >= options_.bookmarkInterval) {
            if (uint64_t rv = ws.watcher->bookmarkRv(); rv != 0) {
              batch = handler_.encodeBookmark(ws, rv);
              state->lastBookmark = now2;
            }
          }
          if (!batch.empty()) {
            if (!sink.write(batch.data(), batch.size())) return false;
          } else if (sink.is_writable && !sink.is_writable()) {
            return false;
          }
          return true;
        },
        [this, state](bool) {
          if (state->stream.watcher) handler_.releaseWatch(state->stream.watcher);
        });
  };
  http_->Get(".*", serve);
  http_->Post(".*", serve);
  http_->Put(".*", serve);
  http_->Patch(".*", serve);
  http_->Delete(".*", serve);
}

Server::~Server() {
  stop();
}

Result<int> Server::bind() {
  if (!http_->is_valid()) {
    return Status(Code::kInternal, "the HTTPS server could not load its certificate or key");
  }
  int port = options_.port == 0
                 ? http_->bind_to_any_port(options_.host.c_str())
                 : (http_->bind_to_port(options_.host.c_str(), options_.port) ? options_.port : -1);
  if (port <= 0) {
    return Status(Code::kUnavailable,
                  "bind " + options_.host + ":" + std::to_string(options_.port) + " failed");
  }
  // httplib listens with a backlog of 5 (compiled into the Debian library); listen() again on
  // the listening socket sets the new backlog (Linux).
  if (int fd = listenFd_.load(); fd >= 0 && ::listen(fd, options_.listenBacklog) != 0) {
    return Status(Code::kInternal, "listen(backlog " + std::to_string(options_.listenBacklog) +
                                       "): " + std::strerror(errno));
  }
  return port;
}

void Server::serve() {
  http_->listen_after_bind();
}

void Server::stop() {
  stopping_ = true;
  if (http_) http_->stop();
}

}  // namespace petrel::apiserver
