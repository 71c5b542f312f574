// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of a prime size M in
// which every backend owns about M/n entries, filled from per-backend permutations so that
// removing or adding one backend moves little more than its own share of entries. Packet-level
// Service load balancing hashes a connection's tuple into the table, so every node picks the same
// backend for it and a backend change disturbs only the flows that must move. The hashes are
// fixed (not std::hash), so tables agree across nodes and restarts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace petrel::core {

inline constexpr uint32_t kDefaultMaglevTableSize = 16381;

// OK when `m` is a prime in [251, 1048573]: small primes give coarse shares, huge ones waste
// memory.
Status checkMaglevTableSize(uint32_t m);

// The table: entry i is an index into `backend_names`. Empty when there are no backends.
// `backend_names` identify backends stably (e.g. "10.244.1.2:8080").
std::vector<uint32_t> maglevTable(const std::vector<std::string>& backend_names, uint32_t m);

}  // namespace petrel::core
