// Map<K, V>: what the agent's map writers need of one BPF map, as an interface. BpfMap is the
// kernel map; FakeMap (fake_map.h) an in-memory one with the kernel's answers (ENOENT, E2BIG at
// capacity), so writers and reconcilers are unit-tested without root.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace petrel::datapath {

template <typename K, typename V>
class Map {
 public:
  virtual ~Map() = default;
  virtual const std::string& name() const = 0;
  // Creates or replaces. RESOURCE_EXHAUSTED when the map is full (kernel: E2BIG).
  virtual Status update(const K& key, const V& value) = 0;
  // Deleting a missing key is success (idempotent).
  virtual Status remove(const K& key) = 0;
  // NOT_FOUND when absent.
  virtual Result<V> lookup(const K& key) const = 0;
  virtual Result<std::vector<K>> keys() const = 0;
};

}  // namespace petrel::datapath
