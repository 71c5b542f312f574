// BpfMap<K, V>: a typed handle on one kernel BPF map (owns a dup of its fd), the kernel's
// implementation of Map<K, V>. Keys and values are the structs of bpf/shared/, so C++ and BPF
// agree on one layout. Errors name the map.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>

#include <cerrno>
#include <string>
#include <vector>

#include "agent/datapath/map.h"
#include "agent/datapath/map_pressure.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace petrel::datapath {

template <typename K, typename V>
class BpfMap : public Map<K, V> {
 public:
  BpfMap() = default;
  // Takes a dup of `fd`; the caller keeps its own.
  BpfMap(int fd, std::string name) : fd_(fcntl(fd, F_DUPFD_CLOEXEC, 0)), name_(std::move(name)) {}
  BpfMap(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}

  // Opens a map pinned at `path` (works while the agent is down).
  static Result<BpfMap> openPinned(const std::string& path) {
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) return errnoStatus(errno, "open pinned map " + path);
    return BpfMap(UniqueFd(fd), path);
  }

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  const std::string& name() const override { return name_; }

  // A full map's refusal names the map and its capacity (map_pressure.h).
  Status update(const K& key, const V& value) override {
    if (bpf_map_update_elem(fd_.get(), &key, &value, BPF_ANY) != 0)
      return mapWriteError(fd_.get(), name_, errno);
    return Status::ok();
  }
  // Deleting a missing key is success (idempotent).
  Status remove(const K& key) override {
    if (bpf_map_delete_elem(fd_.get(), &key) != 0 && errno != ENOENT)
      return errnoStatus(errno, "delete from " + name_);
    return Status::ok();
  }
  Result<V> lookup(const K& key) const override {
    V value{};
    if (bpf_map_lookup_elem(fd_.get(), &key, &value) != 0)
      return errnoStatus(errno, "lookup in " + name_);
    return value;
  }
  Result<std::vector<K>> keys() const override {
    std::vector<K> out;
    K key{};
    K next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd_.get(), prev, &next) == 0) {
      out.push_back(next);
      key = next;
      prev = &key;
    }
    if (errno != ENOENT) return errnoStatus(errno, "iterate " + name_);
    return out;
  }

 private:
  UniqueFd fd_;
  std::string name_;
};

// Reads one slot of a per-CPU map and returns each CPU's value.
template <typename V>
Result<std::vector<V>> lookupPerCpu(int fd, uint32_t key, const std::string& name) {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return errnoStatus(-cpus, "count possible CPUs");
  std::vector<V> values(static_cast<size_t>(cpus));
  if (bpf_map_lookup_elem(fd, &key, values.data()) != 0)
    return errnoStatus(errno, "lookup in " + name);
  return values;
}

}  // namespace petrel::datapath
