// Helpers for the PKI tests: a unique temp directory removed afterwards, reading PEM files
// into OpenSSL objects (failing the test when they do not parse), file modes and fingerprints.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/atomic_file.h"
#include "tools/sandbox/pki/openssl_handles.h"

namespace petrel::sandbox::pki::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "petrel-pki-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl << " failed";
      return;
    }
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string readText(const std::filesystem::path& p) {
  auto text = readWholeFile(p);
  EXPECT_TRUE(text.isOk()) << text.status().toString();
  return text ? *text : std::string();
}

inline X509Ptr loadCert(const std::filesystem::path& p) {
  X509Ptr cert = certFromPem(readText(p));
  EXPECT_NE(cert, nullptr) << p << " is not a PEM certificate";
  return cert;
}

inline PkeyPtr loadKey(const std::filesystem::path& p) {
  PkeyPtr key = privateKeyFromPem(readText(p));
  EXPECT_NE(key, nullptr) << p << " is not a PEM private key";
  return key;
}

inline mode_t fileMode(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << "stat " << p;
  return st.st_mode & 07777;
}

// SHA-256 of the DER certificate, hex.
inline std::string fingerprint(X509* cert) {
  if (cert == nullptr) return "(no certificate)";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

}  // namespace petrel::sandbox::pki::testing
