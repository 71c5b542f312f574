// petrel-workload: the server sandbox pods run so that demos and tests see which backend
// answered. HTTP (--http-port, default 8080), TCP greeting+echo (--tcp-port, 9000) and UDP
// name+echo (--udp-port, 9001); 0 disables a listener. Logs one line per request or connection
// on stdout; SIGTERM/SIGINT exit 0 at once; a taken port exits 1 ("port 8080 in use: ...").
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/unique_fd.h"
#include "tools/sandbox/workload/echo_servers.h"
#include "tools/sandbox/workload/http_server.h"
#include "tools/sandbox/workload/sockets.h"

using namespace petrel;
using namespace petrel::workload;

namespace {

// $POD_NAME, else the hostname.
std::string defaultName() {
  if (const char* pod = std::getenv("POD_NAME"); pod && *pod) return pod;
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) == 0 && host[0]) return host;
  return "petrel-workload";
}

int fail(const std::string& message) {
  std::fprintf(stderr, "petrel-workload: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"petrel-workload: names the pod that answers, over HTTP, TCP and UDP"};
  std::string name;
  uint16_t http_port = 8080;
  uint16_t tcp_port = 9000;
  uint16_t udp_port = 9001;
  std::string bind = "0.0.0.0";
  app.add_option("--name", name, "name to answer with (default: $POD_NAME, else the hostname)");
  app.add_option("--http-port", http_port, "HTTP port, 0 disables")->capture_default_str();
  app.add_option("--tcp-port", tcp_port, "TCP greeting+echo port, 0 disables")
      ->capture_default_str();
  app.add_option("--udp-port", udp_port, "UDP name+echo port, 0 disables")->capture_default_str();
  app.add_option("--bind", bind, "IPv4 address to listen on")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (name.empty()) name = defaultName();

  // Signals are taken synchronously by sigwait below; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // Bind everything before serving anything, so a taken port fails the start.
  UniqueFd tcp, udp;
  if (tcp_port != 0) {
    auto fd = bindSocket(SOCK_STREAM, bind, tcp_port);
    if (!fd) return fail(fd.status().message());
    tcp = std::move(*fd);
  }
  if (udp_port != 0) {
    auto fd = bindSocket(SOCK_DGRAM, bind, udp_port);
    if (!fd) return fail(fd.status().message());
    udp = std::move(*fd);
  }
  std::optional<HttpServer> http;
  if (http_port != 0) {
    http.emplace(name);
    if (Status s = http->bind(bind, http_port); !s.isOk()) return fail(s.message());
  }

  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  if (!stop) return fail(std::string("eventfd: ") + std::strerror(errno));
  std::vector<std::thread> threads;
  if (tcp) threads.emplace_back([&] { serveTcpEcho(name, tcp.get(), stop.get()); });
  if (udp) threads.emplace_back([&] { serveUdpEcho(name, udp.get(), stop.get()); });
  if (http) http->start();

  auto port = [&](uint16_t p) { return p ? bind + ":" + std::to_string(p) : std::string("off"); };
  logLine("petrel-workload " + name + " ready: http " + port(http_port) + ", tcp " +
          port(tcp_port) + ", udp " + port(udp_port));

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  logLine(std::string("petrel-workload ") + name + ": " + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
          ", exiting");
  uint64_t one = 1;
  if (::write(stop.get(), &one, sizeof(one)) != sizeof(one)) return fail("cannot wake listeners");
  if (http) http->stop();
  for (auto& t : threads) t.join();
  return 0;
}
