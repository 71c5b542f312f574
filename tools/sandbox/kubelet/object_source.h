// What a pod's volumes and env read from the API (ConfigMaps, Secrets, service account tokens),
// behind an interface so volume and env building are tested with an in-memory fake.
// api_object_source.h reads them with the node's credentials.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/status.h"
#include "tools/sandbox/kubelet/pod_spec.h"

namespace petrel::sandbox {

using SystemTime = std::chrono::system_clock::time_point;

// A TokenRequest's answer.
struct IssuedToken {
  std::string token;
  SystemTime issued{};   // when we asked
  SystemTime expires{};  // status.expirationTimestamp
};

class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // The object's data, key -> bytes (a ConfigMap's binaryData and a Secret's data decoded).
  // NOT_FOUND when it does not exist; other errors when it cannot be read now.
  virtual Result<std::map<std::string, std::string>> configMapData(const std::string& ns,
                                                                   const std::string& name) = 0;
  virtual Result<std::map<std::string, std::string>> secretData(const std::string& ns,
                                                                const std::string& name) = 0;
  // A token of the pod's service account bound to the pod (TokenRequest).
  virtual Result<IssuedToken> requestToken(const PodSpec& pod, const FileSource& source) = 0;
};

}  // namespace petrel::sandbox
