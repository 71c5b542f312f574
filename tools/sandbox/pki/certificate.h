// CertSpec: what a certificate of the sandbox PKI says (subject, SANs, CA or server or client
// use); signing one, and checking whether an existing certificate still says exactly that.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "tools/sandbox/pki/openssl_handles.h"

namespace petrel::sandbox::pki {

enum class CertUsage { kCa, kServer, kClient };

struct CertSpec {
  std::string common_name;
  std::vector<std::string> organizations;  // one O attribute each, in this order
  std::vector<std::string> dns_sans;
  std::vector<std::string> ip_sans;  // IPv4 or IPv6 text; anything else is kInvalidArgument
  CertUsage usage = CertUsage::kServer;
  long valid_days = 365;
};

// A certificate for `key` as `spec` says, with a random 127-bit serial, valid from an hour ago
// for `valid_days` (but not past the issuer's end), signed by `issuer`/`issuer_key` (SHA-256), or
// self-signed when `issuer` is null.
Result<X509Ptr> signCertificate(const CertSpec& spec, EVP_PKEY* key, X509* issuer,
                                EVP_PKEY* issuer_key);

// Empty if `cert` has exactly the subject (CN, O set), SANs (as sets; IPs compared as
// addresses), basic constraints and extended key usage of `spec`, is signed by `issuer_key`
// (null: skip), belongs to `key` (null: skip) and is valid for at least `min_days_left` more
// days; otherwise the first difference found, e.g. "SANs differ".
std::string certMismatch(X509* cert, const CertSpec& spec, EVP_PKEY* key, EVP_PKEY* issuer_key,
                         long min_days_left);

}  // namespace petrel::sandbox::pki
