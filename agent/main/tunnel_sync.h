// TunnelSync: keeps the overlay's tunnel routes equal to what the Node and PetrelNode caches say.
// Informer handlers only mark it dirty; its own thread recomputes the desired routes and applies
// them, and only once both caches are synced, so a restart or resync never removes a route that
// is still wanted. A periodic pass repairs what someone changed behind the agent's back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "agent/core/tunnel_routes.h"
#include "agent/k8s/cluster_watch.h"

namespace petrel::agent {

class TunnelSync {
 public:
  TunnelSync(core::TunnelDatapath& datapath, std::string self,
             std::chrono::seconds repair_interval = std::chrono::seconds(30))
      : datapath_(datapath), self_(std::move(self)), repair_interval_(repair_interval) {}
  ~TunnelSync() { stop(); }

  void start(const k8s::ClusterWatch& cluster);
  void stop();
  void markDirty();

 private:
  void run();

  core::TunnelDatapath& datapath_;
  std::string self_;
  std::chrono::seconds repair_interval_;
  const k8s::ClusterWatch* cluster_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace petrel::agent
