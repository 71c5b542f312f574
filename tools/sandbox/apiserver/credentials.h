// Credentials: the sandbox API server's self-signed CA, its serving certificate (SAN
// 127.0.0.1, localhost and any extra IPs), a bearer token, and the kubeconfig that ties them
// together.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"

namespace petrel::apiserver {

struct Credentials {
  std::filesystem::path caCert;      // PEM
  std::filesystem::path serverCert;  // PEM, signed by the CA
  std::filesystem::path serverKey;   // PEM
  std::string token;
  std::string caPem;
};

// Loads ca.crt, server.crt, server.key and token from `dir`, creating whichever are missing
// (the certificates together, also when `extra_sans` differ from those they were made for).
// Files are written 0600.
Result<Credentials> loadOrCreateCredentials(const std::filesystem::path& dir,
                                            const std::vector<std::string>& extra_sans = {});

// Writes a kubeconfig for https://<host>:<port> (cluster/context/user "petrel-sandbox",
// certificate-authority-data, bearer token) atomically to `path`.
Status writeKubeconfig(const std::filesystem::path& path, const Credentials& creds,
                       const std::string& host, int port);

// Writes `content` to `path` through a temp file and rename; mode 0600.
Status writeFileAtomic(const std::filesystem::path& path, const std::string& content);

}  // namespace petrel::apiserver
