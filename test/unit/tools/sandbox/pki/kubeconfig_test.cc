// writeKubeconfig: the file parses, embeds the CA, names the client certificate and key files,
// and the project's own kubeconfig loader resolves it to the same server and credentials.
#include "tools/sandbox/pki/kubeconfig.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "k8s/cluster_config.h"
#include "test/unit/tools/sandbox/pki/pki_test_util.h"
#include "tools/sandbox/pki/authority.h"

namespace petrel::sandbox::pki {
namespace {

using testing::readText;
using testing::TempDir;

std::string unbase64(const std::string& in) {
  std::string out(in.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return "(not base64)";
  size_t pad = 0;
  while (pad < in.size() && in[in.size() - 1 - pad] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

TEST(PkiKubeconfig, ParsesAndNamesTheFiles) {
  TempDir tmp;
  auto ca = Authority::loadOrCreate(tmp.path() / "pki");
  ASSERT_TRUE(ca.isOk()) << ca.status().toString();
  auto admin = ca->issueClient("admin", "kubernetes-admin", {"system:masters"});
  ASSERT_TRUE(admin.isOk()) << admin.status().toString();
  const auto path = tmp.path() / "kube" / "admin.conf";
  Status s = writeKubeconfig(path, "https://127.0.0.1:6443", ca->caPem(), admin->cert_path,
                             admin->key_path, "kubernetes-admin");
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(testing::fileMode(path), 0600u);

  nlohmann::json doc = nlohmann::json::parse(readText(path), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << "kubeconfig does not parse";
  EXPECT_EQ(doc["kind"], "Config");
  EXPECT_EQ(doc["current-context"], "petrel-sandbox");
  ASSERT_EQ(doc["clusters"].size(), 1u);
  EXPECT_EQ(doc["clusters"][0]["name"], "petrel-sandbox");
  EXPECT_EQ(doc["clusters"][0]["cluster"]["server"], "https://127.0.0.1:6443");
  EXPECT_EQ(unbase64(doc["clusters"][0]["cluster"]["certificate-authority-data"]), ca->caPem());
  ASSERT_EQ(doc["users"].size(), 1u);
  EXPECT_EQ(doc["users"][0]["name"], "kubernetes-admin");
  EXPECT_EQ(doc["users"][0]["user"]["client-certificate"], admin->cert_path.string());
  EXPECT_EQ(doc["users"][0]["user"]["client-key"], admin->key_path.string());
  ASSERT_EQ(doc["contexts"].size(), 1u);
  EXPECT_EQ(doc["contexts"][0]["name"], "petrel-sandbox");
  EXPECT_EQ(doc["contexts"][0]["context"]["cluster"], "petrel-sandbox");
  EXPECT_EQ(doc["contexts"][0]["context"]["user"], "kubernetes-admin");

  // The YAML reader the agent uses sees the same thing.
  auto cfg = k8s::loadKubeconfig(path.string());
  ASSERT_TRUE(cfg.isOk()) << cfg.status().toString();
  EXPECT_EQ(cfg->server, "https://127.0.0.1:6443");
  EXPECT_EQ(cfg->ca_pem, ca->caPem());
  EXPECT_EQ(cfg->client_cert_pem, readText(admin->cert_path));
  EXPECT_EQ(cfg->client_key_pem, readText(admin->key_path));
}

TEST(PkiKubeconfig, MissingServerIsInvalidArgument) {
  TempDir tmp;
  Status s = writeKubeconfig(tmp.path() / "x.conf", "", "pem", "a.crt", "a.key", "u");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "x.conf"));
}

}  // namespace
}  // namespace petrel::sandbox::pki
