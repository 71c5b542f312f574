// Owning handles for the OpenSSL objects the PKI uses, PEM encoding and decoding, and the
// Status that names an OpenSSL failure with OpenSSL's own reason.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace petrel::sandbox::pki {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// "what: <OpenSSL's first queued error>" (kInternal); clears OpenSSL's error queue.
Status sslError(const std::string& what);

// A new RSA 2048 key (see authority.h for why RSA).
Result<PkeyPtr> generateRsaKey();

// PEM text of a certificate, of a private key (PKCS#8, unencrypted) and of a public key
// (SubjectPublicKeyInfo).
Result<std::string> certToPem(X509* cert);
Result<std::string> privateKeyToPem(EVP_PKEY* key);
Result<std::string> publicKeyToPem(EVP_PKEY* key);

// The first certificate / private key / public key in PEM text; nullptr if there is none or it
// does not parse. Never reads a passphrase.
X509Ptr certFromPem(const std::string& pem);
PkeyPtr privateKeyFromPem(const std::string& pem);
PkeyPtr publicKeyFromPem(const std::string& pem);

// Adds the extension `nid` given in OpenSSL's config syntax (e.g. "critical,CA:TRUE"), with
// `issuer` (or `cert` itself when self-signed) for the key identifiers; false on failure.
bool addExtension(X509* cert, X509* issuer, int nid, const char* value);

// Standard base64 without line breaks (a kubeconfig's *-data fields).
std::string base64(const std::string& in);

}  // namespace petrel::sandbox::pki
