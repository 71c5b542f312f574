// Network namespace handles and a guard that enters a namespace and always restores the original.
// NetnsHandle owns an fd to a namespace; NetnsGuard switches the calling thread (setns is
// per-thread) and aborts the process if it cannot switch back, because a thread left in the wrong
// namespace would silently program the wrong network.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"
#include "common/unique_fd.h"

namespace petrel {

class NetnsHandle {
 public:
  NetnsHandle() = default;

  // Opens `path` (e.g. /var/run/netns/x or /proc/<pid>/ns/net) and checks that it is a network
  // namespace. kNotFound when the path does not exist, kInvalidArgument when it is not a netns.
  static Result<NetnsHandle> open(const std::string& path);
  // The calling thread's current network namespace.
  static Result<NetnsHandle> current();

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }
  const std::string& path() const { return path_; }
  ino_t inode() const { return ino_; }
  // OK when `path` still names this same namespace (same device and inode); kNotFound otherwise.
  Status stillAt(const std::string& path) const;

 private:
  UniqueFd fd_;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// Enters a namespace for the lifetime of the guard (current thread only).
class NetnsGuard {
 public:
  // Switches the calling thread into `target`; the original namespace is restored when the
  // returned guard is destroyed.
  static Result<NetnsGuard> enter(const NetnsHandle& target);
  NetnsGuard(NetnsGuard&& other) noexcept = default;
  NetnsGuard& operator=(NetnsGuard&&) = delete;
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;
  ~NetnsGuard();

 private:
  explicit NetnsGuard(NetnsHandle original) : original_(std::move(original)) {}
  NetnsHandle original_;  // invalid after a move: nothing to restore
};

// Runs `fn` inside `target` and returns its result; the original namespace is restored after.
template <typename Fn>
auto runInNetns(const NetnsHandle& target, Fn&& fn) -> decltype(fn()) {
  auto guard = NetnsGuard::enter(target);
  if (!guard.isOk()) return guard.status();
  return fn();
}

}  // namespace petrel
