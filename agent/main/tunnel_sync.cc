// TunnelSync's loop.
#include "agent/main/tunnel_sync.h"

#include <spdlog/spdlog.h>

#include "agent/k8s/tunnel_peers.h"

namespace petrel::agent {

void TunnelSync::start(const k8s::ClusterWatch& cluster) {
  cluster_ = &cluster;
  thread_ = std::thread([this] { run(); });
}

void TunnelSync::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TunnelSync::markDirty() {
  {
    std::lock_guard lock(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

void TunnelSync::run() {
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
    // Until both caches hold a complete list, a missing node may only be not listed yet.
    if (!cluster_->nodes().synced() || !cluster_->petrelNodes().synced()) continue;
    last_pass = now;
    auto desired =
        k8s::tunnelRoutes(cluster_->petrelNodes().list(), cluster_->nodes().list(), self_);
    if (Status s = datapath_.apply(desired); !s) {
      spdlog::warn("tunnel routes: {} (retrying)", s.message());
      continue;
    }
    pending = false;
  }
}

}  // namespace petrel::agent
