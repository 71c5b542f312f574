// Socket helpers for petrel-workload: bind with a clear error, address formatting, the log.
#include "tools/sandbox/workload/sockets.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <mutex>

namespace petrel::workload {

Result<UniqueFd> bindSocket(int type, const std::string& bind, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, bind.c_str(), &addr.sin_addr) != 1) {
    return Status(Code::kInvalidArgument, "--bind '" + bind + "' is not an IPv4 address");
  }
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd) return errnoStatus(errno, "socket");
  // TCP: restart past TIME_WAIT. Not for UDP, where SO_REUSEADDR lets two sockets share a port.
  if (type == SOCK_STREAM) {
    int yes = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    std::string what = err == EADDRINUSE ? "in use" : "cannot be bound on " + bind;
    return errnoStatus(err, "port " + std::to_string(port) + " " + what);
  }
  if (type == SOCK_STREAM && ::listen(fd.get(), SOMAXCONN) != 0) {
    return errnoStatus(errno, "listen on port " + std::to_string(port));
  }
  return fd;
}

std::string formatAddr(const sockaddr_in& addr) {
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof(ip));
  return std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
}

std::string localAddr(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  return formatAddr(addr);
}

void logLine(const std::string& line) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace petrel::workload
