// A minimal OpenAPI v3 surface: the /openapi/v3 root lists every served group/version, and each
// group/version document names its operations with x-kubernetes-group-version-kind and the
// fieldValidation parameter. That is what kubectl checks before it lets the server validate
// (otherwise it falls back to downloading the protobuf OpenAPI v2 document). No schemas are
// published, so kubectl apply computes strategic merge patches from its compiled-in types.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/sandbox/apiserver/registry.h"

namespace petrel::apiserver {

// GET /openapi/v3
nlohmann::json openapiRoot(const Registry& registry);
// GET /openapi/v3/api/v1 or /openapi/v3/apis/<group>/<version>; nullopt if not served.
std::optional<nlohmann::json> openapiGroupVersion(const Registry& registry,
                                                  const std::string& group,
                                                  const std::string& version);

}  // namespace petrel::apiserver
