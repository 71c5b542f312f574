// ClusterConfig: where the apiserver is and how to authenticate, loaded the two ways users have
// it: a kubeconfig file (current context; token or client certificate; CA file or data) or the
// in-cluster service-account files with KUBERNETES_SERVICE_HOST/PORT.
#pragma once

#include <string>

#include "common/status.h"

namespace petrel::k8s {

struct ClusterConfig {
  std::string server;  // "https://10.96.0.1:443"
  std::string ca_pem;  // CA bundle contents (PEM); empty = system trust store
  std::string token;   // bearer token
  std::string client_cert_pem;
  std::string client_key_pem;
  bool insecure_skip_verify = false;
};

// Reads a kubeconfig file (YAML) and resolves its current context.
Result<ClusterConfig> loadKubeconfig(const std::string& path);

// Reads in-cluster configuration; `sa_dir` is normally
// /var/run/secrets/kubernetes.io/serviceaccount.
Result<ClusterConfig> loadInCluster(
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace petrel::k8s
