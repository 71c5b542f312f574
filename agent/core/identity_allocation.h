// Cluster-wide identity numbers for security labels, race-free across agents through the API:
// each number is one object (PetrelIdentity, named by the number) made by a create that fails
// when the name is taken. Every agent tries the same numbers in the same order for the same
// labels (a start derived from the labels, then the next ones), so two agents allocating the same
// labels at once meet at one number: one creates it, the other finds it.
#pragma once

#include <cstdint>
#include <string>

#include "agent/core/security_labels.h"
#include "common/status.h"

namespace petrel::core {

// Where identities live: the API in the agent, a map in tests.
class IdentityStore {
 public:
  virtual ~IdentityStore() = default;
  // The labels of identity `number`; NOT_FOUND when no such identity exists.
  virtual Result<SecurityLabels> labelsOf(uint32_t number) = 0;
  // Creates identity `number` with `labels`: true when this call made it, false when the number
  // was already taken (by anyone, with any labels). Other errors as they come.
  virtual Result<bool> create(uint32_t number, const SecurityLabels& labels) = 0;
};

// The `attempt`th number (from 0) identities with this canonical key try, within
// [PETREL_IDENTITY_CLUSTER_MIN, PETREL_IDENTITY_CLUSTER_MAX].
uint32_t identityCandidate(const std::string& canonical_key, uint32_t attempt);

// The identity of `labels`: the first candidate whose identity has exactly these labels, made
// when the candidate is free. RESOURCE_EXHAUSTED after `max_attempts` numbers taken by other
// labels; the store's errors otherwise.
Result<uint32_t> allocateIdentity(IdentityStore& store, const SecurityLabels& labels,
                                  uint32_t max_attempts = 64);

}  // namespace petrel::core
