// Certificate, key and token generation with OpenSSL 3, and the kubeconfig writer.
#include "tools/sandbox/apiserver/credentials.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "tools/sandbox/pki/openssl_handles.h"

namespace petrel::apiserver {

namespace fs = std::filesystem;
namespace pki = petrel::sandbox::pki;

namespace {

Result<std::string> readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "read " + p.string() + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<pki::X509Ptr> makeCert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuerKey,
                              bool isCa, long serial, const std::string& sans = "") {
  pki::X509Ptr cert(X509_new());
  if (!cert) return pki::sslError("X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("petrel-sandbox"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* iss = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(iss));
  bool ok = true;
  if (isCa) {
    ok = ok && pki::addExtension(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE");
    ok = ok && pki::addExtension(cert.get(), iss, NID_key_usage,
                                 "critical,keyCertSign,cRLSign,digitalSignature");
    ok = ok && pki::addExtension(cert.get(), iss, NID_subject_key_identifier, "hash");
  } else {
    ok = ok && pki::addExtension(cert.get(), iss, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && pki::addExtension(cert.get(), iss, NID_key_usage,
                                 "critical,digitalSignature,keyEncipherment");
    ok = ok && pki::addExtension(cert.get(), iss, NID_ext_key_usage, "serverAuth");
    ok = ok && pki::addExtension(cert.get(), iss, NID_subject_alt_name, sans.c_str());
    ok = ok && pki::addExtension(cert.get(), iss, NID_authority_key_identifier, "keyid:always");
  }
  if (!ok) return pki::sslError("add certificate extensions");
  if (X509_sign(cert.get(), issuerKey ? issuerKey : key, EVP_sha256()) == 0) {
    return pki::sslError("X509_sign");
  }
  return cert;
}

// The serving certificate's subjectAltName: loopback and localhost, plus `extra` IPs.
std::string sanList(const std::vector<std::string>& extra) {
  std::string sans = "IP:127.0.0.1,DNS:localhost,DNS:petrel-apiserver";
  for (const auto& ip : extra) {
    if (ip != "127.0.0.1") sans += ",IP:" + ip;
  }
  return sans;
}

Status createCertificates(const Credentials& c, const std::string& sans) {
  pki::PkeyPtr caKey(EVP_EC_gen("P-256"));
  pki::PkeyPtr srvKey(EVP_EC_gen("P-256"));
  if (!caKey || !srvKey) return pki::sslError("EVP_EC_gen");
  long serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof(serial));
  serial = (serial & 0x7fffffff) | 1;
  auto ca = makeCert(caKey.get(), "petrel-sandbox-ca", nullptr, nullptr, true, serial);
  if (!ca) return ca.status();
  auto srv =
      makeCert(srvKey.get(), "petrel-apiserver", ca->get(), caKey.get(), false, serial + 1, sans);
  if (!srv) return srv.status();
  auto caPem = pki::certToPem(ca->get());
  auto srvPem = pki::certToPem(srv->get());
  auto srvKeyPem = pki::privateKeyToPem(srvKey.get());
  auto caKeyPem = pki::privateKeyToPem(caKey.get());
  if (!caPem || !srvPem || !srvKeyPem || !caKeyPem) return pki::sslError("PEM encoding");
  for (const auto& [path, content] : {std::pair{c.caCert, *caPem}, std::pair{c.serverCert, *srvPem},
                                      std::pair{c.serverKey, *srvKeyPem},
                                      std::pair{c.caCert.parent_path() / "ca.key", *caKeyPem}}) {
    if (Status s = writeFileAtomic(path, content); !s) return s;
  }
  return Status::ok();
}

}  // namespace

Status writeFileAtomic(const fs::path& path, const std::string& content) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errnoStatus(errno, "open " + tmp.string());
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return errnoStatus(err, "write " + tmp.string());
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return errnoStatus(errno, "rename " + path.string());
  return Status::ok();
}

Result<Credentials> loadOrCreateCredentials(const fs::path& dir,
                                            const std::vector<std::string>& extra_sans) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status(Code::kInternal, "create " + dir.string() + ": " + ec.message());
  Credentials c;
  c.caCert = dir / "ca.crt";
  c.serverCert = dir / "server.crt";
  c.serverKey = dir / "server.key";
  // The SANs the certificates were made for are kept beside them; asking for others (another
  // --bind-address or --tls-san) makes new certificates, and the kubeconfig is rewritten anyway.
  const std::string sans = sanList(extra_sans);
  const fs::path sansPath = dir / "server.sans";
  auto recorded = readFile(sansPath);
  if (!fs::exists(c.caCert) || !fs::exists(c.serverCert) || !fs::exists(c.serverKey) || !recorded ||
      *recorded != sans + "\n") {
    if (Status s = createCertificates(c, sans); !s) return s;
    if (Status s = writeFileAtomic(sansPath, sans + "\n"); !s) return s;
  }
  auto ca = readFile(c.caCert);
  if (!ca) return ca.status();
  c.caPem = *ca;
  fs::path tokenPath = dir / "token";
  if (auto t = readFile(tokenPath); t && !t->empty()) {
    c.token = *t;
    while (!c.token.empty() && (c.token.back() == '\n' || c.token.back() == '\r'))
      c.token.pop_back();
  } else {
    unsigned char raw[24];
    if (RAND_bytes(raw, sizeof(raw)) != 1) return pki::sslError("RAND_bytes");
    static const char* hex = "0123456789abcdef";
    for (unsigned char b : raw) {
      c.token += hex[b >> 4];
      c.token += hex[b & 15];
    }
    if (Status s = writeFileAtomic(tokenPath, c.token + "\n"); !s) return s;
  }
  return c;
}

Status writeKubeconfig(const fs::path& path, const Credentials& creds, const std::string& host,
                       int port) {
  std::string server = "https://" + host + ":" + std::to_string(port);
  std::string y;
  y += "apiVersion: v1\nkind: Config\n";
  y += "clusters:\n- name: petrel-sandbox\n  cluster:\n    server: " + server + "\n";
  y += "    certificate-authority-data: " + pki::base64(creds.caPem) + "\n";
  y += "users:\n- name: petrel-sandbox\n  user:\n    token: " + creds.token + "\n";
  y += "contexts:\n- name: petrel-sandbox\n  context:\n    cluster: petrel-sandbox\n"
       "    user: petrel-sandbox\n    namespace: default\n";
  y += "current-context: petrel-sandbox\npreferences: {}\n";
  if (path.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
  }
  return writeFileAtomic(path, y);
}

}  // namespace petrel::apiserver
