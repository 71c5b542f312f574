// Authority: the CA is made once and reused; serving and client certificates chain to it, carry
// the asked-for SANs, subject and extKeyUsage, are reused when unchanged and replaced when not;
// a broken CA is a clear error.
#include "tools/sandbox/pki/authority.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "test/unit/tools/sandbox/pki/pki_test_util.h"

namespace petrel::sandbox::pki {
namespace {

using testing::fileMode;
using testing::fingerprint;
using testing::loadCert;
using testing::loadKey;
using testing::TempDir;

const std::vector<std::string> kDns = {"kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                       "kubernetes.default.svc.cluster.local", "localhost"};
const std::vector<std::string> kIps = {"127.0.0.1", "10.0.0.2", "10.96.0.1"};

Authority makeCa(const std::filesystem::path& dir) {
  auto ca = Authority::loadOrCreate(dir);
  if (!ca) {
    ADD_FAILURE() << ca.status().toString();
    std::abort();
  }
  return std::move(*ca);
}

// X509_verify_cert of `leaf` against a store holding only `ca`, for the given purpose;
// "" when it verifies, else OpenSSL's reason.
std::string verifyChain(X509* ca, X509* leaf, int purpose) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1 ||
      X509_STORE_CTX_set_purpose(ctx.get(), purpose) != 1) {
    return "store setup failed";
  }
  if (X509_verify_cert(ctx.get()) == 1) return "";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

std::vector<std::string> subjectEntries(X509* cert, int nid) {
  std::vector<std::string> out;
  X509_NAME* name = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

void writeGarbage(const std::filesystem::path& p) {
  std::ofstream(p, std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nnot base64 at all\n";
}

TEST(PkiAuthority, CreatesRsaCaForTenYearsWithPrivateKey0600) {
  TempDir tmp;
  Authority ca = makeCa(tmp.path() / "pki");
  EXPECT_TRUE(ca.created());
  X509Ptr cert = loadCert(ca.certPath());
  PkeyPtr key = loadKey(ca.keyPath());
  ASSERT_TRUE(cert && key);
  EXPECT_EQ(fileMode(ca.keyPath()), 0600u);
  EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), EVP_PKEY_RSA);
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 2048);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_EQ(X509_verify(cert.get(), key.get()), 1) << "CA is not self-signed by ca.key";
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert.get())), 1);
  EXPECT_GT(days, 3640);
  EXPECT_LE(days, 3651);
  EXPECT_EQ(ca.caPem(), testing::readText(ca.certPath()));
}

TEST(PkiAuthority, ServingCertChainsToCaWithSansAndServerAuth) {
  TempDir tmp;
  Authority ca = makeCa(tmp.path());
  auto issued = ca.issueServing("apiserver", kDns, kIps);
  ASSERT_TRUE(issued.isOk()) << issued.status().toString();
  EXPECT_FALSE(issued->reused);
  EXPECT_EQ(issued->cert_path, tmp.path() / "apiserver.crt");
  EXPECT_EQ(fileMode(issued->key_path), 0600u);
  X509Ptr caCert = loadCert(ca.certPath());
  X509Ptr cert = loadCert(issued->cert_path);
  PkeyPtr key = loadKey(issued->key_path);
  ASSERT_TRUE(caCert && cert && key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_EQ(verifyChain(caCert.get(), cert.get(), X509_PURPOSE_SSL_SERVER), "");
  EXPECT_NE(verifyChain(caCert.get(), cert.get(), X509_PURPOSE_SSL_CLIENT), "")
      << "a serving certificate must not be usable for client auth";
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  for (const auto& dns : kDns) {
    EXPECT_EQ(X509_check_host(cert.get(), dns.c_str(), dns.size(), 0, nullptr), 1) << dns;
  }
  for (const auto& ip : kIps) EXPECT_EQ(X509_check_ip_asc(cert.get(), ip.c_str(), 0), 1) << ip;
  EXPECT_NE(X509_check_host(cert.get(), "evil.example", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_ip_asc(cert.get(), "10.96.0.2", 0), 1);
}

TEST(PkiAuthority, ClientCertsCarryCnOAndClientAuth) {
  TempDir tmp;
  Authority ca = makeCa(tmp.path());
  X509Ptr caCert = loadCert(ca.certPath());
  struct Case {
    std::string name, cn;
    std::vector<std::string> orgs;
  };
  for (const Case& c : {Case{"admin", "kubernetes-admin", {"system:masters"}},
                        Case{"controller-manager", "system:kube-controller-manager", {}},
                        Case{"scheduler", "system:kube-scheduler", {}},
                        Case{"kubelet-node-1", "system:node:node-1", {"system:nodes"}},
                        Case{"apiserver-kubelet-client",
                             "kube-apiserver-kubelet-client",
                             {"system:masters", "extra-group"}}}) {
    auto issued = ca.issueClient(c.name, c.cn, c.orgs);
    ASSERT_TRUE(issued.isOk()) << c.name << ": " << issued.status().toString();
    X509Ptr cert = loadCert(issued->cert_path);
    ASSERT_TRUE(cert) << c.name;
    EXPECT_EQ(subjectEntries(cert.get(), NID_commonName), std::vector<std::string>{c.cn});
    EXPECT_EQ(subjectEntries(cert.get(), NID_organizationName), c.orgs) << c.name;
    EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
    EXPECT_EQ(verifyChain(caCert.get(), cert.get(), X509_PURPOSE_SSL_CLIENT), "") << c.name;
    EXPECT_NE(verifyChain(caCert.get(), cert.get(), X509_PURPOSE_SSL_SERVER), "") << c.name;
    EXPECT_EQ(fileMode(issued->key_path), 0600u) << c.name;
  }
}

TEST(PkiAuthority, RestartReusesCaAndUnchangedCerts) {
  TempDir tmp;
  std::string caFp, serverFp, clientFp;
  {
    Authority ca = makeCa(tmp.path());
    ASSERT_TRUE(ca.issueServing("apiserver", kDns, kIps).isOk());
    ASSERT_TRUE(ca.issueClient("admin", "kubernetes-admin", {"system:masters"}).isOk());
    caFp = fingerprint(loadCert(ca.certPath()).get());
    serverFp = fingerprint(loadCert(tmp.path() / "apiserver.crt").get());
    clientFp = fingerprint(loadCert(tmp.path() / "admin.crt").get());
  }
  Authority again = makeCa(tmp.path());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(fingerprint(loadCert(again.certPath()).get()), caFp);
  // The same SANs in another order are the same set.
  std::vector<std::string> dns(kDns.rbegin(), kDns.rend()), ips(kIps.rbegin(), kIps.rend());
  auto server = again.issueServing("apiserver", dns, ips);
  auto client = again.issueClient("admin", "kubernetes-admin", {"system:masters"});
  ASSERT_TRUE(server.isOk() && client.isOk());
  EXPECT_TRUE(server->reused);
  EXPECT_TRUE(client->reused);
  X509Ptr serverCert = loadCert(server->cert_path);
  EXPECT_EQ(fingerprint(serverCert.get()), serverFp);
  EXPECT_EQ(fingerprint(loadCert(client->cert_path).get()), clientFp);
}

TEST(PkiAuthority, ChangedSansOrSubjectRegenerate) {
  TempDir tmp;
  Authority ca = makeCa(tmp.path());
  ASSERT_TRUE(ca.issueServing("apiserver", kDns, kIps).isOk());
  X509Ptr before = loadCert(tmp.path() / "apiserver.crt");
  std::vector<std::string> ips = kIps;
  ips.push_back("10.0.0.3");  // a node joined
  auto after = ca.issueServing("apiserver", kDns, ips);
  ASSERT_TRUE(after.isOk()) << after.status().toString();
  EXPECT_FALSE(after->reused);
  X509Ptr cert = loadCert(after->cert_path);
  ASSERT_TRUE(before && cert);
  EXPECT_NE(fingerprint(cert.get()), fingerprint(before.get()));
  EXPECT_NE(
      ASN1_INTEGER_cmp(X509_get0_serialNumber(cert.get()), X509_get0_serialNumber(before.get())),
      0);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.3", 0), 1);

  ASSERT_TRUE(ca.issueClient("node", "system:node:a", {"system:nodes"}).isOk());
  auto renamed = ca.issueClient("node", "system:node:b", {"system:nodes"});
  ASSERT_TRUE(renamed.isOk());
  EXPECT_FALSE(renamed->reused);
  auto regrouped = ca.issueClient("node", "system:node:b", {"system:masters"});
  ASSERT_TRUE(regrouped.isOk());
  EXPECT_FALSE(regrouped->reused);
  // A serving certificate asked for as a client one is not reused either.
  auto asClient = ca.issueClient("apiserver", "apiserver", {});
  ASSERT_TRUE(asClient.isOk());
  EXPECT_FALSE(asClient->reused);
}

TEST(PkiAuthority, CorruptOrForeignLeafIsReplaced) {
  TempDir tmp;
  Authority ca = makeCa(tmp.path() / "a");
  Authority other = makeCa(tmp.path() / "b");
  ASSERT_TRUE(ca.issueServing("apiserver", kDns, kIps).isOk());
  writeGarbage(tmp.path() / "a" / "apiserver.crt");
  auto fixed = ca.issueServing("apiserver", kDns, kIps);
  ASSERT_TRUE(fixed.isOk()) << fixed.status().toString();
  EXPECT_FALSE(fixed->reused);
  X509Ptr caCert = loadCert(ca.certPath());
  X509Ptr cert = loadCert(fixed->cert_path);
  ASSERT_TRUE(caCert && cert);
  EXPECT_EQ(verifyChain(caCert.get(), cert.get(), X509_PURPOSE_SSL_SERVER), "");

  // The same subject and SANs signed by another CA are not this CA's certificate.
  auto foreign = other.issueServing("apiserver", kDns, kIps);
  ASSERT_TRUE(foreign.isOk());
  std::filesystem::copy_file(foreign->cert_path, fixed->cert_path,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(foreign->key_path, fixed->key_path,
                             std::filesystem::copy_options::overwrite_existing);
  auto reissued = ca.issueServing("apiserver", kDns, kIps);
  ASSERT_TRUE(reissued.isOk());
  EXPECT_FALSE(reissued->reused);
  cert = loadCert(reissued->cert_path);
  EXPECT_EQ(verifyChain(caCert.get(), cert.get(), X509_PURPOSE_SSL_SERVER), "");

  // A key that does not belong to the certificate is replaced too.
  auto clientA = ca.issueClient("admin", "kubernetes-admin", {"system:masters"});
  ASSERT_TRUE(clientA.isOk());
  std::filesystem::copy_file(reissued->key_path, clientA->key_path,
                             std::filesystem::copy_options::overwrite_existing);
  auto clientB = ca.issueClient("admin", "kubernetes-admin", {"system:masters"});
  ASSERT_TRUE(clientB.isOk());
  EXPECT_FALSE(clientB->reused);
  EXPECT_EQ(
      X509_check_private_key(loadCert(clientB->cert_path).get(), loadKey(clientB->key_path).get()),
      1);
}

TEST(PkiAuthority, CorruptCaIsAClearErrorNamingTheFile) {
  TempDir tmp;
  { Authority ca = makeCa(tmp.path()); }
  writeGarbage(tmp.path() / "ca.crt");
  auto broken = Authority::loadOrCreate(tmp.path());
  ASSERT_FALSE(broken.isOk()) << "a corrupt ca.crt was accepted";
  EXPECT_EQ(broken.status().code(), Code::kFailedPrecondition);
  const std::string& msg = broken.status().message();
  EXPECT_NE(msg.find((tmp.path() / "ca.crt").string() + ": is not a PEM certificate"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("remove"), std::string::npos) << msg;
  // It was not silently replaced.
  EXPECT_EQ(testing::readText(tmp.path() / "ca.crt").find("not base64"), 28u);
}

TEST(PkiAuthority, CaWithoutItsKeyOrWithAnotherKeyIsAnError) {
  TempDir tmp;
  { Authority ca = makeCa(tmp.path() / "a"); }
  { Authority ca = makeCa(tmp.path() / "b"); }
  std::filesystem::copy_file(tmp.path() / "b" / "ca.key", tmp.path() / "a" / "ca.key",
                             std::filesystem::copy_options::overwrite_existing);
  auto mismatched = Authority::loadOrCreate(tmp.path() / "a");
  ASSERT_FALSE(mismatched.isOk());
  EXPECT_NE(mismatched.status().message().find("does not match ca.crt"), std::string::npos)
      << mismatched.status().message();
  std::filesystem::remove(tmp.path() / "b" / "ca.key");
  auto missing = Authority::loadOrCreate(tmp.path() / "b");
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.status().message().find((tmp.path() / "b" / "ca.key").string() +
                                            ": missing while ca.crt exists"),
            std::string::npos)
      << missing.status().message();
}

TEST(PkiAuthority, BadIpSanIsInvalidArgument) {
  TempDir tmp;
  Authority ca = makeCa(tmp.path());
  auto bad = ca.issueServing("apiserver", kDns, {"10.0.0.300"});
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("10.0.0.300"), std::string::npos);
  auto v6 = ca.issueServing("apiserver6", {}, {"fd00::1"});
  ASSERT_TRUE(v6.isOk()) << v6.status().toString();
  EXPECT_EQ(X509_check_ip_asc(loadCert(v6->cert_path).get(), "fd00:0::1", 0), 1);
}

TEST(PkiAuthority, OpensslCliVerifiesServingCert) {
  ASSERT_EQ(std::system("command -v openssl >/dev/null 2>&1"), 0)
      << "the openssl command is not installed (apt-get install openssl)";
  TempDir tmp;
  Authority ca = makeCa(tmp.path());
  auto issued = ca.issueServing("apiserver", kDns, kIps);
  ASSERT_TRUE(issued.isOk());
  std::string cmd = "openssl verify -purpose sslserver -CAfile '" + ca.certPath().string() + "' '" +
                    issued->cert_path.string() + "' 2>&1";
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(cmd.c_str(), "r"), pclose);
  ASSERT_TRUE(pipe) << "popen " << cmd;
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof(buf), pipe.get())) out += buf;
  EXPECT_EQ(out, issued->cert_path.string() + ": OK\n");
}

}  // namespace
}  // namespace petrel::sandbox::pki
