// Identity allocation: candidates by hash and linear probing, one create per free number.
#include "agent/core/identity_allocation.h"

#include <fmt/format.h>

#include "maps.h"

namespace petrel::core {

namespace {

// FNV-1a, 64 bits: the same start on every agent, whatever its build.
uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

uint32_t identityCandidate(const std::string& canonical_key, uint32_t attempt) {
  constexpr uint64_t kSize = PETREL_IDENTITY_CLUSTER_MAX - PETREL_IDENTITY_CLUSTER_MIN + 1;
  return static_cast<uint32_t>(PETREL_IDENTITY_CLUSTER_MIN +
                               (fnv1a(canonical_key) + attempt) % kSize);
}

Result<uint32_t> allocateIdentity(IdentityStore& store, const SecurityLabels& labels,
                                  uint32_t max_attempts) {
  const std::string key = canonicalKey(labels);
  for (uint32_t attempt = 0; attempt < max_attempts; ++attempt) {
    const uint32_t number = identityCandidate(key, attempt);
    // Twice at most per number: a free number can be taken between our read and our create,
    // and a taken one can be deleted (garbage-collected) in between too.
    for (int round = 0; round < 2; ++round) {
      auto existing = store.labelsOf(number);
      if (existing) {
        if (*existing == labels) return number;
        break;  // another label set's number: the next candidate
      }
      if (existing.status().code() != Code::kNotFound) return existing.status();
      auto created = store.create(number, labels);
      if (!created) return created.status();
      if (*created) return number;
    }
  }
  return makeError(Code::kResourceExhausted,
                   "no identity for {{{}}}: the {} numbers it may take are all used by other "
                   "labels (kubectl get petrelidentities)",
                   key, max_attempts);
}

}  // namespace petrel::core
