// OpenSSL error text, RSA key generation and PEM conversion through memory BIOs.
#include "tools/sandbox/pki/openssl_handles.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

namespace petrel::sandbox::pki {

namespace {

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string bioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

BioPtr readBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Refuses any passphrase prompt: the sandbox's keys are never encrypted.
int noPassword(char*, int, int, void*) {
  return -1;
}

}  // namespace

Status sslError(const std::string& what) {
  unsigned long err = ERR_get_error();
  std::string reason = "OpenSSL failure";
  if (err != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    reason = buf;
  }
  ERR_clear_error();
  return Status(Code::kInternal, what + ": " + reason);
}

Result<PkeyPtr> generateRsaKey() {
  PkeyPtr key(EVP_RSA_gen(2048));
  if (!key) return sslError("generate RSA 2048 key");
  return key;
}

Result<std::string> certToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return sslError("PEM-encode certificate");
  return bioString(bio.get());
}

Result<std::string> privateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return sslError("PEM-encode private key");
  }
  return bioString(bio.get());
}

Result<std::string> publicKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return sslError("PEM-encode public key");
  return bioString(bio.get());
}

X509Ptr certFromPem(const std::string& pem) {
  BioPtr bio = readBio(pem);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, noPassword, nullptr) : nullptr);
  ERR_clear_error();
  return cert;
}

PkeyPtr privateKeyFromPem(const std::string& pem) {
  BioPtr bio = readBio(pem);
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassword, nullptr) : nullptr);
  ERR_clear_error();
  return key;
}

PkeyPtr publicKeyFromPem(const std::string& pem) {
  BioPtr bio = readBio(pem);
  PkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, noPassword, nullptr) : nullptr);
  ERR_clear_error();
  return key;
}

bool addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

std::string base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace petrel::sandbox::pki
