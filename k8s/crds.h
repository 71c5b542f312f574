// The CustomResourceDefinitions Petrel needs: its own (petrel.io) and the upstream
// ClusterNetworkPolicy (network-policy-api, vendored by scripts/vendor-network-policy-api.sh).
// charts/petrel/crds/*.yaml is the one source: the build embeds those files, and installCrds()
// creates or updates them through the API (the sandbox at `up`, the operator at start).
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "k8s/rest_client.h"

namespace petrel::k8s {

// The embedded CRDs as API objects.
Result<std::vector<nlohmann::json>> petrelCrds();

// Creates each CRD, or replaces it when it was not written from this build's spec (annotation
// petrel.io/spec-digest), and waits until the API server serves it (Established).
Status installCrds(const RestClient& client);

// YAML text (one document) to JSON; scalars that YAML would read as booleans or numbers
// become JSON booleans and numbers unless quoted.
Result<nlohmann::json> yamlToJson(const std::string& text);

}  // namespace petrel::k8s
