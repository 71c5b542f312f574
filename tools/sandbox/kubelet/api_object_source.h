// ObjectSource over the API with the node's credentials (the Node authorizer lets a node read
// the ConfigMaps and Secrets its pods reference and request tokens for their service accounts),
// and the kubernetes Service's address, read once and cached.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "k8s/rest_client.h"
#include "tools/sandbox/kubelet/object_source.h"

namespace petrel::sandbox {

struct ServiceAddress {
  std::string ip;
  int port = 0;
};

class ApiObjectSource : public ObjectSource {
 public:
  explicit ApiObjectSource(const k8s::RestClient& client) : client_(client) {}

  Result<std::map<std::string, std::string>> configMapData(const std::string& ns,
                                                           const std::string& name) override;
  Result<std::map<std::string, std::string>> secretData(const std::string& ns,
                                                        const std::string& name) override;
  Result<IssuedToken> requestToken(const PodSpec& pod, const FileSource& source) override;

  // default/kubernetes: its ClusterIP and the port named https (else its first).
  Result<ServiceAddress> kubernetesService();

 private:
  Result<nlohmann::json> getObject(const std::string& path, const std::string& what);

  const k8s::RestClient& client_;
  std::optional<ServiceAddress> kubernetes_;
};

// Standard base64 (a Secret's data); INVALID_ARGUMENT on other characters.
Result<std::string> decodeBase64(const std::string& in);

}  // namespace petrel::sandbox
