// FakeMap<K, V>: an in-memory Map for unit tests, answering as a kernel hash map does: a
// missing key is NOT_FOUND, an insert past `capacity` is RESOURCE_EXHAUSTED (E2BIG), deleting a
// missing key succeeds. Keys compare by their bytes, as the kernel hashes them (zero padding).
#pragma once

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "agent/datapath/map.h"

namespace petrel::datapath {

template <typename K, typename V>
class FakeMap : public Map<K, V> {
 public:
  explicit FakeMap(std::string name = "fake", size_t capacity = 65536)
      : name_(std::move(name)), capacity_(capacity) {}

  const std::string& name() const override { return name_; }
  Status update(const K& key, const V& value) override {
    ++updates;
    if (fail_updates) return Status(Code::kInternal, "update " + name_ + ": injected failure");
    auto k = bytes(key);
    if (!entries_.count(k) && entries_.size() >= capacity_) {
      return errnoStatus(E2BIG, "update " + name_);
    }
    entries_[k] = value;
    return Status::ok();
  }
  Status remove(const K& key) override {
    ++removes;
    entries_.erase(bytes(key));
    return Status::ok();
  }
  Result<V> lookup(const K& key) const override {
    auto it = entries_.find(bytes(key));
    if (it == entries_.end()) return errnoStatus(ENOENT, "lookup in " + name_);
    return it->second;
  }
  Result<std::vector<K>> keys() const override {
    std::vector<K> out;
    for (const auto& [k, v] : entries_) {
      K key;
      std::memcpy(&key, k.data(), sizeof(K));
      out.push_back(key);
    }
    return out;
  }
  size_t size() const { return entries_.size(); }

  // Counters and a switch for tests.
  size_t updates = 0;
  size_t removes = 0;
  bool fail_updates = false;

 private:
  static std::string bytes(const K& key) {
    return std::string(reinterpret_cast<const char*>(&key), sizeof(K));
  }
  std::string name_;
  size_t capacity_;
  std::map<std::string, V> entries_;
};

}  // namespace petrel::datapath
