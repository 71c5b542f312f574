// serviceAccountKeyPair: reuse or create sa.key, and keep sa.pub in step with it.
#include "tools/sandbox/pki/service_account.h"

#include <system_error>

#include "common/atomic_file.h"
#include "tools/sandbox/pki/openssl_handles.h"

namespace petrel::sandbox::pki {

namespace fs = std::filesystem;

Result<ServiceAccountKeys> serviceAccountKeyPair(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status(Code::kInternal, "create " + dir.string() + ": " + ec.message());
  ServiceAccountKeys out{dir / "sa.key", dir / "sa.pub", false};
  PkeyPtr key;
  if (auto pem = readWholeFile(out.private_key_path)) {
    key = privateKeyFromPem(*pem);
    if (key &&
        (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key.get()) < 2048)) {
      key.reset();
    }
  }
  out.reused = key != nullptr;
  if (!key) {
    auto fresh = generateRsaKey();
    if (!fresh) return fresh.status();
    key = std::move(*fresh);
    auto keyPem = privateKeyToPem(key.get());
    if (!keyPem) return keyPem.status();
    PETREL_RETURN_IF_ERROR(writeFileAtomic(out.private_key_path, *keyPem, 0600));
  }
  auto pubPem = publicKeyToPem(key.get());
  if (!pubPem) return pubPem.status();
  auto oldPub = readWholeFile(out.public_key_path);
  if (!oldPub || *oldPub != *pubPem) {
    PETREL_RETURN_IF_ERROR(writeFileAtomic(out.public_key_path, *pubPem, 0644));
  }
  return out;
}

}  // namespace petrel::sandbox::pki
