// Persistence: loads the store from <data-dir>/objects.json at start and writes a snapshot of it
// after changes (debounced, atomic rename), so a restarted server keeps its objects and its
// resourceVersion.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/status.h"
#include "tools/sandbox/apiserver/store.h"

namespace petrel::apiserver {

class Persistence {
 public:
  Persistence(ObjectStore& store, std::filesystem::path file,
              std::chrono::milliseconds debounce = std::chrono::milliseconds(200));
  ~Persistence();  // flushes pending changes
  Persistence(const Persistence&) = delete;
  Persistence& operator=(const Persistence&) = delete;

  // Restores the store from the file if it exists (ok when absent).
  Status load();
  // Registers with the store and starts the writer thread.
  void start();
  // Writes now if anything changed since the last write.
  Status flush();

 private:
  void run();

  ObjectStore& store_;
  std::filesystem::path file_;
  std::chrono::milliseconds debounce_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace petrel::apiserver
