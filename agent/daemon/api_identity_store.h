// The IdentityStore of a cluster: PetrelIdentity objects (petrel.io/v1alpha1, cluster-scoped,
// named by their number) through the API server. A create of a taken name answers 409, which is
// what makes allocation race-free.
#pragma once

#include "agent/core/identity_allocation.h"
#include "k8s/rest_client.h"

namespace petrel::agent {

class ApiIdentityStore : public core::IdentityStore {
 public:
  explicit ApiIdentityStore(const k8s::RestClient& client) : client_(client) {}

  Result<core::SecurityLabels> labelsOf(uint32_t number) override;
  Result<bool> create(uint32_t number, const core::SecurityLabels& labels) override;

 private:
  const k8s::RestClient& client_;
};

}  // namespace petrel::agent
