// Debounced JSON snapshots of the object store.
#include "tools/sandbox/apiserver/persistence.h"

#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "tools/sandbox/apiserver/credentials.h"

namespace petrel::apiserver {

Persistence::Persistence(ObjectStore& store, std::filesystem::path file,
                         std::chrono::milliseconds debounce)
    : store_(store), file_(std::move(file)), debounce_(debounce) {}

Persistence::~Persistence() {
  store_.setOnChange(nullptr);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  (void)flush();
}

Status Persistence::load() {
  if (!std::filesystem::exists(file_)) return Status::ok();
  std::ifstream in(file_);
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded())
    return Status(Code::kInvalidArgument, "parse " + file_.string() + ": invalid JSON");
  return store_.restore(j).withContext("load " + file_.string());
}

void Persistence::start() {
  store_.setOnChange([this] {
    std::lock_guard lock(mu_);
    dirty_ = true;
    cv_.notify_all();
  });
  thread_ = std::thread([this] { run(); });
}

Status Persistence::flush() {
  {
    std::lock_guard lock(mu_);
    if (!dirty_) return Status::ok();
    dirty_ = false;
  }
  return writeFileAtomic(file_, store_.snapshot().dump());
}

void Persistence::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait(lock, [&] { return stop_ || dirty_; });
    if (stop_) break;
    cv_.wait_for(lock, debounce_, [&] { return stop_; });
    lock.unlock();
    if (Status s = flush(); !s) spdlog::warn("petrel-apiserver: snapshot: {}", s.toString());
    lock.lock();
  }
}

}  // namespace petrel::apiserver
