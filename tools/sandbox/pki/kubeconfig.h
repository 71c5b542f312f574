// writeKubeconfig: a kubeconfig for one client-certificate user of the sandbox cluster.
#pragma once

#include <filesystem>
#include <string>

#include "common/status.h"

namespace petrel::sandbox::pki {

// Writes (atomically, 0600) a kubeconfig whose cluster and context are both named
// "petrel-sandbox" and current: `server_url` with `ca_pem` embedded as
// certificate-authority-data, and user `user_name` authenticating with the client certificate
// and key at the given paths (absolute paths are best: kubectl resolves relative ones against
// the kubeconfig's directory). Written as JSON, which every kubeconfig reader accepts as YAML.
Status writeKubeconfig(const std::filesystem::path& path, const std::string& server_url,
                       const std::string& ca_pem, const std::filesystem::path& client_cert_path,
                       const std::filesystem::path& client_key_path, const std::string& user_name);

}  // namespace petrel::sandbox::pki
