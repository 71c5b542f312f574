// writeKubeconfig: the kubeconfig document built with nlohmann::json.
#include "tools/sandbox/pki/kubeconfig.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "tools/sandbox/pki/openssl_handles.h"

namespace petrel::sandbox::pki {

Status writeKubeconfig(const std::filesystem::path& path, const std::string& server_url,
                       const std::string& ca_pem, const std::filesystem::path& client_cert_path,
                       const std::filesystem::path& client_key_path, const std::string& user_name) {
  if (server_url.empty() || ca_pem.empty() || user_name.empty()) {
    return Status(Code::kInvalidArgument,
                  "kubeconfig " + path.string() + ": server, CA and user name are required");
  }
  const std::string name = "petrel-sandbox";
  nlohmann::json doc = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters",
       {{{"name", name},
         {"cluster", {{"server", server_url}, {"certificate-authority-data", base64(ca_pem)}}}}}},
      {"users",
       {{{"name", user_name},
         {"user",
          {{"client-certificate", client_cert_path.string()},
           {"client-key", client_key_path.string()}}}}}},
      {"contexts", {{{"name", name}, {"context", {{"cluster", name}, {"user", user_name}}}}}},
      {"current-context", name},
      {"preferences", nlohmann::json::object()},
  };
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec)
      return Status(Code::kInternal, "create " + path.parent_path().string() + ": " + ec.message());
  }
  return writeFileAtomic(path, doc.dump(2) + "\n", 0600);
}

}  // namespace petrel::sandbox::pki
