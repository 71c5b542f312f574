// The service-account token key pair: sa.key (RSA 2048, PEM PKCS#8) for kube-apiserver's
// --service-account-signing-key-file and the controller manager's
// --service-account-private-key-file, sa.pub (PEM SubjectPublicKeyInfo) for
// --service-account-key-file.
#pragma once

#include <filesystem>

#include "common/status.h"

namespace petrel::sandbox::pki {

struct ServiceAccountKeys {
  std::filesystem::path private_key_path;  // <dir>/sa.key, 0600
  std::filesystem::path public_key_path;   // <dir>/sa.pub, 0644
  bool reused = false;                     // true if sa.key was kept
};

// Keeps a readable RSA sa.key of 2048 bits or more (so issued tokens stay valid across
// restarts) and rewrites sa.pub from it if that is missing or differs; otherwise (no key, not
// RSA, corrupt) makes a new pair. Creates `dir` if needed.
Result<ServiceAccountKeys> serviceAccountKeyPair(const std::filesystem::path& dir);

}  // namespace petrel::sandbox::pki
