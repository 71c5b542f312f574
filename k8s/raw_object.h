// RawObject: an API object kept as its JSON with its decoded metadata, for informers of tools
// that need fields the typed decoders leave out (the sandbox's kubelet and controllers).
#pragma once

#include <nlohmann/json.hpp>

#include "k8s/objects.h"

namespace petrel::k8s {

struct RawObject {
  ObjectMeta meta;
  nlohmann::json object;
};

inline Result<RawObject> decodeRawObject(const nlohmann::json& obj, bool namespaced) {
  auto meta = decodeMeta(obj, namespaced);
  if (!meta) return meta.status();
  return RawObject{std::move(*meta), obj};
}

}  // namespace petrel::k8s
