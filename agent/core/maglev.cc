// Maglev table population.
#include "agent/core/maglev.h"

namespace petrel::core {

namespace {

// FNV-1a 64 with a seed folded in, then a murmur3 finalizer: cheap, fixed, well mixed.
uint64_t hash(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

bool isPrime(uint32_t n) {
  if (n < 2) return false;
  for (uint32_t d = 2; uint64_t{d} * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

}  // namespace

Status checkMaglevTableSize(uint32_t m) {
  if (m < 251 || m > 1048573 || !isPrime(m)) {
    return makeError(Code::kInvalidArgument,
                     "Maglev table size {} must be a prime between 251 and 1048573 (e.g. 16381, "
                     "the default, or 65521)",
                     m);
  }
  return Status::ok();
}

std::vector<uint32_t> maglevTable(const std::vector<std::string>& backend_names, uint32_t m) {
  const size_t n = backend_names.size();
  if (n == 0 || m == 0) return {};
  std::vector<uint64_t> offset(n), skip(n), next(n, 0);
  for (size_t i = 0; i < n; ++i) {
    offset[i] = hash(backend_names[i], 0x6d61676c6576ull) % m;
    skip[i] = hash(backend_names[i], 0x736b6970ull) % (m - 1) + 1;
  }
  constexpr uint32_t kEmpty = UINT32_MAX;
  std::vector<uint32_t> table(m, kEmpty);
  uint32_t filled = 0;
  while (true) {
    for (size_t i = 0; i < n; ++i) {
      // The backend's next preferred entry that is still free.
      uint64_t c = (offset[i] + next[i] * skip[i]) % m;
      while (table[c] != kEmpty) {
        ++next[i];
        c = (offset[i] + next[i] * skip[i]) % m;
      }
      table[c] = static_cast<uint32_t>(i);
      ++next[i];
      if (++filled == m) return table;
    }
  }
}

}  // namespace petrel::core
