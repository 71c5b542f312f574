// How full the datapath's maps are, and the agent's writes a full map refused: what
// `petrel status` shows per map. A hash map at capacity refuses new keys (E2BIG; an LPM trie
// ENOSPC); the error names the map and its capacity and is remembered here. An LRU map
// (conntrack, NAT, affinity) at capacity evicts instead: its entry count says when it does.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace petrel::datapath {

struct MapPressure {
  std::string name;  // the pin name, e.g. petrel_lb_services
  uint64_t entries = 0;
  uint64_t capacity = 0;        // max_entries
  uint64_t refused_writes = 0;  // by this agent, for lack of room, since it started
  std::string last_refused;     // the last such error
  bool evicts = false;          // an LRU map: at capacity it evicts the least recently used
};

// Every map pinned under `pin_root` that can fill up (not the arrays), in a fixed order; a map
// not pinned (an older agent's pins) is left out. Counting walks the keys, in batches where the
// map type allows: a few milliseconds for 100,000 entries.
Result<std::vector<MapPressure>> readMapPressure(const std::string& pin_root);

// The entries of the map `fd`.
Result<uint64_t> countEntries(int fd);

// The error of a write of `key_what` into the map `fd` (named `name`, a pin path or name) that
// failed with `err`. When the map is full (E2BIG, ENOSPC) the message says so with its capacity,
// the code is RESOURCE_EXHAUSTED, and the refusal is remembered for readMapPressure.
Status mapWriteError(int fd, const std::string& name, int err, const std::string& key_what = "");

}  // namespace petrel::datapath
