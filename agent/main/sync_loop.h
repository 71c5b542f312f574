// SyncLoop: keeps one part of the datapath (tunnel routes, Service frontends) equal to what the
// informer caches say. Informer handlers only mark it dirty; its own thread recomputes and
// applies, and only once `ready` says the caches it reads are synced, so a restart or resync
// never removes something still wanted. A failed apply is retried every second, and a periodic
// pass repairs what someone changed behind the agent's back.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace petrel::agent {

class SyncLoop {
 public:
  SyncLoop(std::string what, std::function<bool()> ready, std::function<Status()> apply,
           std::chrono::seconds repair_interval = std::chrono::seconds(30))
      : what_(std::move(what)),
        ready_(std::move(ready)),
        apply_(std::move(apply)),
        repair_interval_(repair_interval) {}
  ~SyncLoop() { stop(); }

  void start();
  void stop();
  void markDirty();

 private:
  void run();

  std::string what_;
  std::function<bool()> ready_;
  std::function<Status()> apply_;
  std::chrono::seconds repair_interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace petrel::agent
