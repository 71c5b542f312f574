// Patch application for PATCH requests: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
// a strategic merge patch subset (merge keys for lists, $patch, $setElementOrder, $retainKeys,
// $deleteFromPrimitiveList) that covers what `kubectl apply` sends.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace petrel::apiserver {

enum class PatchType { kMerge, kStrategicMerge, kJsonPatch };

// Maps a Content-Type to a patch type; error (unsupported media type) for anything else.
Result<PatchType> patchTypeFromContentType(const std::string& contentType);

// Applies `patch` to `original`. Errors are kInvalidArgument with a message for the client.
Result<nlohmann::json> applyPatch(const nlohmann::json& original, const nlohmann::json& patch,
                                  PatchType type);

}  // namespace petrel::apiserver
