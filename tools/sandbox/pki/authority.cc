// Authority: loading or creating the CA, and issuing (or reusing) leaf certificates.
#include "tools/sandbox/pki/authority.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <system_error>

#include "common/atomic_file.h"
#include "tools/sandbox/pki/certificate.h"

namespace petrel::sandbox::pki {

namespace fs = std::filesystem;

namespace {

constexpr long kCaDays = 3650;
constexpr long kLeafDays = 365;
constexpr long kRenewDays = 30;  // a leaf with less left is reissued

CertSpec caSpec() {
  CertSpec spec;
  spec.common_name = "petrel-sandbox-ca";
  spec.usage = CertUsage::kCa;
  spec.valid_days = kCaDays;
  return spec;
}

Status caProblem(const fs::path& file, const std::string& problem) {
  fs::path dir = file.parent_path();
  return Status(Code::kFailedPrecondition,
                "sandbox CA " + file.string() + ": " + problem +
                    "; to start over with a new CA, remove " + (dir / "ca.crt").string() + " and " +
                    (dir / "ca.key").string() +
                    " (every certificate and kubeconfig made from the old CA is then reissued)");
}

}  // namespace

Result<Authority> Authority::loadOrCreate(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status(Code::kInternal, "create " + dir.string() + ": " + ec.message());
  Authority ca;
  ca.dir_ = dir;
  const fs::path certFile = ca.certPath(), keyFile = ca.keyPath();
  bool haveCert = fs::exists(certFile, ec), haveKey = fs::exists(keyFile, ec);
  if (!haveCert && !haveKey) {
    auto key = generateRsaKey();
    if (!key) return key.status();
    auto cert = signCertificate(caSpec(), key->get(), nullptr, nullptr);
    if (!cert) return cert.status();
    auto certPem = certToPem(cert->get());
    if (!certPem) return certPem.status();
    auto keyPem = privateKeyToPem(key->get());
    if (!keyPem) return keyPem.status();
    // The key first: a crash between the two leaves no certificate without its key.
    PETREL_RETURN_IF_ERROR(writeFileAtomic(keyFile, *keyPem, 0600));
    PETREL_RETURN_IF_ERROR(writeFileAtomic(certFile, *certPem, 0644));
    ca.cert_ = std::move(*cert);
    ca.key_ = std::move(*key);
    ca.ca_pem_ = std::move(*certPem);
    ca.created_ = true;
    return ca;
  }
  if (!haveCert) return caProblem(certFile, "missing while ca.key exists");
  if (!haveKey) return caProblem(keyFile, "missing while ca.crt exists");
  auto certPem = readWholeFile(certFile);
  if (!certPem) return caProblem(certFile, "cannot be read (" + certPem.status().message() + ")");
  auto keyPem = readWholeFile(keyFile);
  if (!keyPem) return caProblem(keyFile, "cannot be read (" + keyPem.status().message() + ")");
  ca.cert_ = certFromPem(*certPem);
  if (!ca.cert_) return caProblem(certFile, "is not a PEM certificate");
  ca.key_ = privateKeyFromPem(*keyPem);
  if (!ca.key_) return caProblem(keyFile, "is not an unencrypted PEM private key");
  if (X509_check_ca(ca.cert_.get()) == 0) return caProblem(certFile, "is not a CA certificate");
  // Any subject is accepted (a CA made elsewhere may be dropped in); it must be whole and current.
  if (X509_check_private_key(ca.cert_.get(), ca.key_.get()) != 1) {
    ERR_clear_error();
    return caProblem(keyFile, "does not match ca.crt");
  }
  if (X509_verify(ca.cert_.get(), ca.key_.get()) != 1) {
    ERR_clear_error();
    return caProblem(certFile, "is not self-signed by ca.key");
  }
  if (X509_cmp_current_time(X509_get0_notAfter(ca.cert_.get())) <= 0) {
    return caProblem(certFile, "has expired");
  }
  ca.ca_pem_ = std::move(*certPem);
  return ca;
}

Result<IssuedPair> Authority::issueServing(const std::string& name,
                                           const std::vector<std::string>& dns_sans,
                                           const std::vector<std::string>& ip_sans) const {
  CertSpec spec;
  spec.common_name = name;
  spec.dns_sans = dns_sans;
  spec.ip_sans = ip_sans;
  spec.usage = CertUsage::kServer;
  return issue(name, spec);
}

Result<IssuedPair> Authority::issueClient(const std::string& name, const std::string& common_name,
                                          const std::vector<std::string>& organizations) const {
  CertSpec spec;
  spec.common_name = common_name;
  spec.organizations = organizations;
  spec.usage = CertUsage::kClient;
  return issue(name, spec);
}

Result<IssuedPair> Authority::issue(const std::string& name, const CertSpec& spec_in) const {
  if (name.empty() || name.find('/') != std::string::npos || name == "ca" || name == "sa") {
    return Status(Code::kInvalidArgument, "certificate name \"" + name + "\" is not usable");
  }
  CertSpec spec = spec_in;
  spec.valid_days = kLeafDays;
  IssuedPair out{dir_ / (name + ".crt"), dir_ / (name + ".key"), false};
  auto oldCert = readWholeFile(out.cert_path);
  auto oldKey = readWholeFile(out.key_path);
  if (oldCert && oldKey) {
    X509Ptr cert = certFromPem(*oldCert);
    PkeyPtr key = privateKeyFromPem(*oldKey);
    if (cert && key && certMismatch(cert.get(), spec, key.get(), key_.get(), kRenewDays).empty()) {
      out.reused = true;
      return out;
    }
  }
  auto key = generateRsaKey();
  if (!key) return key.status();
  auto cert = signCertificate(spec, key->get(), cert_.get(), key_.get());
  if (!cert) return cert.status();
  auto certPem = certToPem(cert->get());
  if (!certPem) return certPem.status();
  auto keyPem = privateKeyToPem(key->get());
  if (!keyPem) return keyPem.status();
  // A crash between the two writes leaves a pair that does not match: the next run replaces it.
  PETREL_RETURN_IF_ERROR(writeFileAtomic(out.key_path, *keyPem, 0600));
  PETREL_RETURN_IF_ERROR(writeFileAtomic(out.cert_path, *certPem, 0644));
  return out;
}

}  // namespace petrel::sandbox::pki
