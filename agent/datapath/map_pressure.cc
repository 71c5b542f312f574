// Map pressure: entry counts by batch lookup (or key walk), capacities from the map info, and the
// refused writes by map id.
#include "agent/datapath/map_pressure.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/unique_fd.h"
#include "maps.h"

namespace petrel::datapath {

namespace {

// The maps that can fill up, in the order `petrel status` lists them.
constexpr const char* kPressureMaps[] = {
    PETREL_MAP_ENDPOINTS,      PETREL_MAP_TUNNEL,    PETREL_MAP_LB_SERVICES,
    PETREL_MAP_LB_BACKENDS,    PETREL_MAP_LB_MAGLEV, PETREL_MAP_LB_AFFINITY,
    PETREL_MAP_LB_SOCK_REVNAT, PETREL_MAP_CT,        PETREL_MAP_NAT};

constexpr uint32_t kBatch = 4096;

struct Refusal {
  uint64_t count = 0;
  std::string last;
};

// Refused writes by kernel map id (unique while the map exists, whatever its pin path).
class Refusals {
 public:
  void note(uint32_t map_id, const std::string& message) {
    std::lock_guard lock(mu_);
    Refusal& r = by_id_[map_id];
    ++r.count;
    r.last = message;
  }
  Refusal of(uint32_t map_id) {
    std::lock_guard lock(mu_);
    auto it = by_id_.find(map_id);
    return it == by_id_.end() ? Refusal{} : it->second;
  }

 private:
  std::mutex mu_;
  std::map<uint32_t, Refusal> by_id_;
};

Refusals& refusals() {
  static Refusals r;
  return r;
}

Result<bpf_map_info> mapInfo(int fd) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return errnoStatus(errno, "read map info");
  return info;
}

// Counts by walking the keys one by one (maps without batch lookup, such as LPM tries).
Result<uint64_t> countByKeys(int fd, uint32_t key_size) {
  std::vector<uint8_t> key(key_size), next(key_size);
  const void* prev = nullptr;
  uint64_t n = 0;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    ++n;
    key.swap(next);
    prev = key.data();
  }
  if (errno != ENOENT) return errnoStatus(errno, "walk the keys of a map");
  return n;
}

}  // namespace

Result<uint64_t> countEntries(int fd) {
  auto info = mapInfo(fd);
  if (!info) return info.status();
  std::vector<uint8_t> keys(size_t{info->key_size} * kBatch);
  std::vector<uint8_t> values(size_t{info->value_size} * kBatch);
  // The batch position is opaque: a bucket index for hash maps, a key for others.
  std::vector<uint8_t> in(std::max<uint32_t>(info->key_size, 8)), out(in.size());
  uint64_t n = 0;
  for (bool first = true;; first = false) {
    uint32_t count = kBatch;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : in.data(), out.data(), keys.data(),
                                   values.data(), &count, nullptr);
    if (err != 0 && errno != ENOENT) {
      // No batch lookup for this type (or a bucket larger than a batch): walk the keys.
      return countByKeys(fd, info->key_size);
    }
    n += count;
    if (err != 0) return n;  // ENOENT: that was the last batch
    in.swap(out);
  }
}

Result<std::vector<MapPressure>> readMapPressure(const std::string& pin_root) {
  std::vector<MapPressure> out;
  for (const char* name : kPressureMaps) {
    const std::string path = pin_root + "/" + name;
    UniqueFd fd(bpf_obj_get(path.c_str()));
    if (!fd) {
      if (errno == ENOENT) continue;
      return errnoStatus(errno, "open pinned map " + path);
    }
    auto info = mapInfo(fd.get());
    if (!info) return makeError(info.status().code(), "{}: {}", path, info.status().message());
    auto entries = countEntries(fd.get());
    if (!entries) {
      return makeError(entries.status().code(), "{}: {}", path, entries.status().message());
    }
    Refusal r = refusals().of(info->id);
    const bool lru =
        info->type == BPF_MAP_TYPE_LRU_HASH || info->type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
    out.push_back({name, *entries, info->max_entries, r.count, std::move(r.last), lru});
  }
  return out;
}

Status mapWriteError(int fd, const std::string& name, int err, const std::string& key_what) {
  const std::string what = "update " + name + (key_what.empty() ? "" : " (" + key_what + ")");
  if (err != E2BIG && err != ENOSPC) return errnoStatus(err, what);
  auto info = mapInfo(fd);
  if (!info) return Status(Code::kResourceExhausted, what + ": the map is full");
  std::string message =
      fmt::format("{}: the map is full, at its capacity of {} entries", what, info->max_entries);
  refusals().note(info->id, message);
  return Status(Code::kResourceExhausted, std::move(message));
}

}  // namespace petrel::datapath
