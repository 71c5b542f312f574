// SocketDestroyer: runs the sock_destroy iterators in a set of network namespaces to destroy the
// TCP and UDP sockets connected to one backend, so clients of a backend that is gone get an
// error (TCP: a reset) at once instead of a blackhole. Each namespace is entered by a short-lived
// thread (setns affects only the calling thread).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/status.h"

struct sock_destroy;

namespace petrel::datapath {

class SocketDestroyer {
 public:
  static Result<std::unique_ptr<SocketDestroyer>> load();
  ~SocketDestroyer();
  SocketDestroyer(const SocketDestroyer&) = delete;
  SocketDestroyer& operator=(const SocketDestroyer&) = delete;

  // Destroys the sockets connected to ip:port in each namespace ("" is the caller's own).
  // Returns how many were destroyed; a namespace that is gone is skipped.
  Result<uint64_t> destroy(Ipv4Addr ip, uint16_t port, const std::vector<std::string>& netns_paths);

 private:
  SocketDestroyer() = default;
  Status runIterators();  // in the calling thread's namespace
  struct sock_destroy* skel_ = nullptr;
  std::mutex mu_;
};

}  // namespace petrel::datapath
