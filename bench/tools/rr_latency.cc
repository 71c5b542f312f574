// petrel-bench-rr: TCP request/response latency over one connection (netperf TCP_RR style).
//   petrel-bench-rr server --port P
//   petrel-bench-rr client --host IP --port P [--seconds S] [--size N] [--warmup-ms W]
// The client sends N bytes, waits for N bytes back, and records each round trip; it prints
// one line: "count=<n> p50_us=<x> p90_us=<x> p99_us=<x> mean_us=<x>".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

bool readFull(int fd, char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = read(fd, buf, len);
    if (n <= 0) return false;
    buf += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool writeFull(int fd, const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n <= 0) return false;
    buf += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Echoes whatever arrives, in chunks, until the peer closes.
void echo(int fd) {
  setNoDelay(fd);
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0 || !writeFull(fd, buf, static_cast<size_t>(n))) break;
  }
  close(fd);
}

int serve(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 64) != 0) {
    std::fprintf(stderr, "petrel-bench-rr: bind/listen :%u: %s\n", port, std::strerror(errno));
    return 1;
  }
  for (;;) {
    int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::thread(echo, c).detach();
  }
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(idx, sorted.size() - 1)];
}

int client(const std::string& host, uint16_t port, double seconds, size_t size, int warmupMs) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "petrel-bench-rr: bad address %s\n", host.c_str());
    return 2;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::fprintf(stderr, "petrel-bench-rr: connect %s:%u: %s\n", host.c_str(), port,
                 std::strerror(errno));
    return 1;
  }
  setNoDelay(fd);
  std::vector<char> buf(size, 'x');
  std::vector<double> samples;
  samples.reserve(1 << 20);
  auto start = Clock::now();
  auto warmEnd = start + std::chrono::milliseconds(warmupMs);
  auto end = warmEnd + std::chrono::duration<double>(seconds);
  for (;;) {
    auto t0 = Clock::now();
    if (t0 >= end) break;
    if (!writeFull(fd, buf.data(), size) || !readFull(fd, buf.data(), size)) {
      std::fprintf(stderr, "petrel-bench-rr: connection lost after %zu samples\n", samples.size());
      return 1;
    }
    auto t1 = Clock::now();
    if (t0 >= warmEnd) {
      samples.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
  }
  close(fd);
  if (samples.empty()) return 1;
  std::sort(samples.begin(), samples.end());
  double sum = 0;
  for (double s : samples) sum += s;
  std::printf("count=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f mean_us=%.1f\n", samples.size(),
              percentile(samples, 0.50), percentile(samples, 0.90), percentile(samples, 0.99),
              sum / static_cast<double>(samples.size()));
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: petrel-bench-rr server --port P\n"
               "       petrel-bench-rr client --host IP --port P [--seconds S] [--size N] "
               "[--warmup-ms W]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) return usage();
  std::string mode = argv[1];
  std::string host;
  uint16_t port = 0;
  double seconds = 3;
  size_t size = 1;
  int warmupMs = 300;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--host") {
      host = value;
    } else if (flag == "--port") {
      port = static_cast<uint16_t>(std::atoi(value.c_str()));
    } else if (flag == "--seconds") {
      seconds = std::atof(value.c_str());
    } else if (flag == "--size") {
      size = static_cast<size_t>(std::max(1, std::atoi(value.c_str())));
    } else if (flag == "--warmup-ms") {
      warmupMs = std::atoi(value.c_str());
    } else {
      return usage();
    }
  }
  if (port == 0) return usage();
  if (mode == "server") return serve(port);
  if (mode == "client" && !host.empty()) return client(host, port, seconds, size, warmupMs);
  return usage();
}
