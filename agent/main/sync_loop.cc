// SyncLoop's thread.
#include "agent/main/sync_loop.h"

#include <spdlog/spdlog.h>

namespace petrel::agent {

void SyncLoop::start() {
  thread_ = std::thread([this] { run(); });
}

void SyncLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SyncLoop::markDirty() {
  {
    std::lock_guard lock(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

void SyncLoop::run() {
  bool pending = true;  // something to apply, or the last attempt failed
  auto last_pass = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return dirty_ || stop_; });
      if (stop_) return;
      pending = pending || dirty_;
      dirty_ = false;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!pending && now - last_pass < repair_interval_) continue;
    if (!ready_()) continue;
    last_pass = now;
    if (Status s = apply_(); !s) {
      spdlog::warn("{}: {} (retrying)", what_, s.message());
      continue;
    }
    pending = false;
  }
}

}  // namespace petrel::agent
