// HTTP routes of petrel-workload on cpp-httplib; each request is logged as one line.
#include "tools/sandbox/workload/http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tools/sandbox/workload/sockets.h"

namespace petrel::workload {

namespace {

constexpr int kThreads = 64;                          // /delay requests each hold one
constexpr int64_t kMaxDelayMs = int64_t{10} * 60000;  // longer asks are refused
constexpr int64_t kMaxBytes = int64_t{1} << 30;       // /bytes answers at most 1 GiB
constexpr size_t kBytesChunk = 64 * 1024;

// The decimal number in a route's first capture, or nullopt if it does not fit an int64.
std::optional<int64_t> captureNumber(const httplib::Request& req) {
  const std::string text = req.matches[1].str();
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

void badRequest(httplib::Response& res, const std::string& why) {
  res.status = 400;
  res.set_content(why + "\n", "text/plain");
}

}  // namespace

struct HttpServer::Impl {
  std::string name;
  httplib::Server server;
  std::thread thread;
  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  std::atomic<bool> done = false;  // the serving loop has returned

  void routes();
  // Sleeps `ms` or until stop(); returns false when stopped early.
  bool sleepFor(int64_t ms) {
    std::unique_lock lock(mu);
    return !wake.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping; });
  }
};

void HttpServer::Impl::routes() {
  server.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(name + "\n", "text/plain");
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  server.Get("/json", [this](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [key, value] : req.headers) {
      // cpp-httplib files the connection's addresses among the headers; they are not headers.
      if (key == "REMOTE_ADDR" || key == "REMOTE_PORT" || key == "LOCAL_ADDR" ||
          key == "LOCAL_PORT") {
        continue;
      }
      auto& slot = headers[key];
      slot = slot.is_null() ? value : slot.get<std::string>() + ", " + value;
    }
    nlohmann::json body = {
        {"name", name},
        {"client", req.remote_addr + ":" + std::to_string(req.remote_port)},
        {"server", req.local_addr + ":" + std::to_string(req.local_port)},
        {"path", req.path},
        {"headers", headers},
    };
    res.set_content(body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                    "application/json");
  });
  server.Get(R"(/status/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto code = captureNumber(req);
    if (!code || *code < 200 || *code > 599) return badRequest(res, "status must be 200-599");
    res.status = static_cast<int>(*code);
    res.set_content(name + "\n", "text/plain");
  });
  server.Get(R"(/delay/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto ms = captureNumber(req);
    if (!ms || *ms > kMaxDelayMs) {
      return badRequest(res, "delay must be 0-" + std::to_string(kMaxDelayMs) + " ms");
    }
    if (!sleepFor(*ms)) {
      res.status = 503;
      res.set_content("shutting down\n", "text/plain");
      return;
    }
    res.set_content(name + "\n", "text/plain");
  });
  // N bytes of 'x', streamed in chunks: large responses for throughput and GSO paths.
  server.Get(R"(/bytes/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    auto size = captureNumber(req);
    if (!size || *size > kMaxBytes) {
      return badRequest(res, "size must be 0-" + std::to_string(kMaxBytes) + " bytes");
    }
    res.set_content_provider(static_cast<size_t>(*size), "application/octet-stream",
                             [](size_t offset, size_t length, httplib::DataSink& sink) {
                               static const std::string chunk(kBytesChunk, 'x');
                               (void)offset;
                               return sink.write(chunk.data(), std::min(length, chunk.size()));
                             });
  });
  server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    logLine("http " + req.remote_addr + ":" + std::to_string(req.remote_port) + " -> " +
            req.local_addr + ":" + std::to_string(req.local_port) + " " + req.method + " " +
            req.path + " " + std::to_string(res.status));
  });
}

HttpServer::HttpServer(std::string name) : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  // SO_REUSEADDR without cpp-httplib's default SO_REUSEPORT: a second server on a taken port
  // must fail, not share it.
  impl_->server.set_socket_options([](int fd) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  impl_->routes();
}

HttpServer::~HttpServer() {
  stop();
}

Status HttpServer::bind(const std::string& bind, uint16_t port) {
  // cpp-httplib reports only true/false; a probe bind first gives the reason.
  auto probe = bindSocket(SOCK_STREAM, bind, port);
  if (!probe) return probe.status();
  probe->reset();
  if (!impl_->server.bind_to_port(bind, port)) {
    return Status(Code::kUnavailable, "port " + std::to_string(port) + ": cannot listen");
  }
  return Status::ok();
}

void HttpServer::start() {
  impl_->thread = std::thread([this] {
    impl_->server.listen_after_bind();
    impl_->done = true;
  });
  // cpp-httplib's stop() does nothing before the loop runs; wait for it so stop() always ends it.
  while (!impl_->server.is_running() && !impl_->done)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace petrel::workload
