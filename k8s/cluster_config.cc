// kubeconfig and in-cluster configuration loading.
#include "k8s/cluster_config.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace petrel::k8s {

namespace {

Result<std::string> readFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return errnoStatus(errno, "read " + what + " " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

Result<std::string> base64Decode(const std::string& in, const std::string& what) {
  std::string clean;
  for (char c : in) {
    if (!isspace(static_cast<unsigned char>(c))) clean.push_back(c);
  }
  if (clean.size() % 4 != 0) return Status(Code::kInvalidArgument, what + " is not valid base64");
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return Status(Code::kInvalidArgument, what + " is not valid base64");
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// Finds the entry named `name` in a kubeconfig list ("clusters", "users", "contexts").
YAML::Node findNamed(const YAML::Node& list, const std::string& name, const char* field) {
  if (!list || !list.IsSequence()) return {};
  for (const auto& item : list) {
    if (item["name"] && item["name"].as<std::string>() == name) return item[field];
  }
  return {};
}

// Inline *-data wins over a file path, as in kubectl.
Result<std::string> dataOrFile(const YAML::Node& node, const std::string& key,
                               const std::string& base_dir) {
  if (node[key + "-data"])
    return base64Decode(node[key + "-data"].as<std::string>(), key + "-data");
  if (node[key]) {
    std::string path = node[key].as<std::string>();
    if (!path.empty() && path[0] != '/') path = base_dir + "/" + path;
    return readFile(path, key);
  }
  return std::string();
}

}  // namespace

Result<ClusterConfig> loadKubeconfig(const std::string& path) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Status(Code::kInvalidArgument, "kubeconfig " + path + ": " + e.what());
  }
  try {
    std::string base_dir =
        path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    if (!doc["current-context"]) {
      return Status(Code::kInvalidArgument, "kubeconfig " + path + " has no current-context");
    }
    std::string ctx_name = doc["current-context"].as<std::string>();
    YAML::Node ctx = findNamed(doc["contexts"], ctx_name, "context");
    if (!ctx)
      return Status(Code::kInvalidArgument,
                    "kubeconfig " + path + ": context '" + ctx_name + "' not found");
    std::string cluster_name = ctx["cluster"] ? ctx["cluster"].as<std::string>() : "";
    std::string user_name = ctx["user"] ? ctx["user"].as<std::string>() : "";
    YAML::Node cluster = findNamed(doc["clusters"], cluster_name, "cluster");
    if (!cluster || !cluster["server"]) {
      return Status(Code::kInvalidArgument,
                    "kubeconfig " + path + ": cluster '" + cluster_name + "' has no server");
    }
    ClusterConfig cfg;
    cfg.server = cluster["server"].as<std::string>();
    cfg.insecure_skip_verify =
        cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>();
    auto ca = dataOrFile(cluster, "certificate-authority", base_dir);
    if (!ca) return ca.status().withContext("kubeconfig " + path);
    cfg.ca_pem = *ca;
    YAML::Node user = findNamed(doc["users"], user_name, "user");
    if (user) {
      if (user["token"]) cfg.token = user["token"].as<std::string>();
      if (cfg.token.empty() && user["tokenFile"]) {
        auto t = readFile(user["tokenFile"].as<std::string>(), "tokenFile");
        if (!t) return t.status();
        cfg.token = *t;
      }
      auto cert = dataOrFile(user, "client-certificate", base_dir);
      if (!cert) return cert.status().withContext("kubeconfig " + path);
      cfg.client_cert_pem = *cert;
      auto key = dataOrFile(user, "client-key", base_dir);
      if (!key) return key.status().withContext("kubeconfig " + path);
      cfg.client_key_pem = *key;
    }
    while (!cfg.token.empty() && isspace(static_cast<unsigned char>(cfg.token.back())))
      cfg.token.pop_back();
    return cfg;
  } catch (const YAML::Exception& e) {
    return Status(Code::kInvalidArgument, "kubeconfig " + path + ": " + e.what());
  }
}

Result<ClusterConfig> loadInCluster(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    return Status(
        Code::kFailedPrecondition,
        "not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set; pass --kubeconfig");
  }
  ClusterConfig cfg;
  std::string h = host;
  cfg.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  auto token = readFile(sa_dir + "/token", "service-account token");
  if (!token) return token.status();
  cfg.token = *token;
  while (!cfg.token.empty() && isspace(static_cast<unsigned char>(cfg.token.back())))
    cfg.token.pop_back();
  auto ca = readFile(sa_dir + "/ca.crt", "service-account CA");
  if (!ca) return ca.status();
  cfg.ca_pem = *ca;
  return cfg;
}

}  // namespace petrel::k8s
