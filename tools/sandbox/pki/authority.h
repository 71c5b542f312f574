// Authority: the sandbox cluster's certificate authority, loaded from or created in a directory,
// and the serving and client certificates it issues there for kube-apiserver, etcd, the
// controller manager, the scheduler, the kubelets and the admin.
//
// Keys are RSA 2048 throughout (CA and leaves). kube-apiserver, etcd, client-go and the
// controller manager's CSR signer (--cluster-signing-key-file) accept ECDSA P-256 too, but RSA
// 2048 is kubeadm's default, the one key type every Kubernetes component and tool has always
// accepted for every role, and the service-account key (service_account.h) is RSA 2048 too; one
// type for all keeps the PKI uniform. Its cost (tens of milliseconds a key) is paid once: files are
// reused.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/sandbox/pki/openssl_handles.h"

namespace petrel::sandbox::pki {

struct CertSpec;

// A certificate and key file pair the Authority issued or found still valid.
struct IssuedPair {
  std::filesystem::path cert_path;  // <dir>/<name>.crt, PEM, 0644
  std::filesystem::path key_path;   // <dir>/<name>.key, PEM PKCS#8, 0600
  bool reused = false;              // true if the files on disk already matched
};

class Authority {
 public:
  // Loads <dir>/ca.crt and <dir>/ca.key, or, if neither exists, creates the directory and a
  // self-signed CA (CN petrel-sandbox-ca, 10 years) there. A CA file that is present but
  // unreadable, corrupt, expired or without its partner is an error (kFailedPrecondition) that
  // names the file and says to remove ca.crt and ca.key: the CA is never replaced silently,
  // since every certificate and kubeconfig trusting it would break.
  static Result<Authority> loadOrCreate(const std::filesystem::path& dir);

  // <dir>/<name>.crt and .key: a serving certificate (CN `name`, extKeyUsage serverAuth, the
  // given SANs). Kept if the files on disk are signed by this CA, match the key and say the
  // same subject and SANs (compared as sets) with 30 days or more left; otherwise replaced.
  Result<IssuedPair> issueServing(const std::string& name, const std::vector<std::string>& dns_sans,
                                  const std::vector<std::string>& ip_sans) const;

  // <dir>/<name>.crt and .key: a client certificate (Subject CN `common_name`, one O per
  // organization, extKeyUsage clientAuth), kept or replaced as for issueServing.
  Result<IssuedPair> issueClient(const std::string& name, const std::string& common_name,
                                 const std::vector<std::string>& organizations) const;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path certPath() const { return dir_ / "ca.crt"; }
  std::filesystem::path keyPath() const { return dir_ / "ca.key"; }
  // The CA certificate, PEM (for certificate-authority-data).
  const std::string& caPem() const { return ca_pem_; }
  // True if loadOrCreate made a new CA.
  bool created() const { return created_; }

 private:
  Authority() = default;
  Result<IssuedPair> issue(const std::string& name, const CertSpec& spec) const;

  std::filesystem::path dir_;
  X509Ptr cert_;
  PkeyPtr key_;
  std::string ca_pem_;
  bool created_ = false;
};

}  // namespace petrel::sandbox::pki
