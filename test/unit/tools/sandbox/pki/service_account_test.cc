// serviceAccountKeyPair: sa.key and sa.pub are one RSA 2048 pair in the PEM forms
// kube-apiserver reads; the key survives restarts; a lost sa.pub is rebuilt; a corrupt sa.key
// is replaced.
#include "tools/sandbox/pki/service_account.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <fstream>
#include <memory>

#include "test/unit/tools/sandbox/pki/pki_test_util.h"

namespace petrel::sandbox::pki {
namespace {

using testing::fileMode;
using testing::readText;
using testing::TempDir;

// True if a signature by `priv` verifies with `pub` (what the API server does with tokens).
bool signsAndVerifies(EVP_PKEY* priv, EVP_PKEY* pub) {
  const std::string msg = "service account token";
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sign(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  if (EVP_DigestSignInit(sign.get(), nullptr, EVP_sha256(), nullptr, priv) != 1 ||
      EVP_DigestSign(sign.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(msg.data()),
                     msg.size()) != 1) {
    return false;
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(sign.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1) {
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> verify(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return EVP_DigestVerifyInit(verify.get(), nullptr, EVP_sha256(), nullptr, pub) == 1 &&
         EVP_DigestVerify(verify.get(), reinterpret_cast<const unsigned char*>(sig.data()), len,
                          reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
}

TEST(PkiServiceAccount, WritesOneRsaPairInPkcs8AndSpki) {
  TempDir tmp;
  auto keys = serviceAccountKeyPair(tmp.path() / "sa");
  ASSERT_TRUE(keys.isOk()) << keys.status().toString();
  EXPECT_FALSE(keys->reused);
  EXPECT_EQ(keys->private_key_path, tmp.path() / "sa" / "sa.key");
  EXPECT_EQ(fileMode(keys->private_key_path), 0600u);
  std::string keyPem = readText(keys->private_key_path), pubPem = readText(keys->public_key_path);
  EXPECT_EQ(keyPem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << "not PKCS#8: " << keyPem;
  EXPECT_EQ(pubPem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u) << "not SPKI: " << pubPem;
  PkeyPtr priv = privateKeyFromPem(keyPem), pub = publicKeyFromPem(pubPem);
  ASSERT_TRUE(priv && pub);
  EXPECT_EQ(EVP_PKEY_get_base_id(priv.get()), EVP_PKEY_RSA);
  EXPECT_EQ(EVP_PKEY_get_bits(priv.get()), 2048);
  EXPECT_EQ(EVP_PKEY_eq(priv.get(), pub.get()), 1) << "sa.pub is not sa.key's public key";
  EXPECT_TRUE(signsAndVerifies(priv.get(), pub.get()));

  // Another pair's public key does not verify this one's signatures (the check can fail).
  auto other = serviceAccountKeyPair(tmp.path() / "other");
  ASSERT_TRUE(other.isOk());
  PkeyPtr otherPub = publicKeyFromPem(readText(other->public_key_path));
  ASSERT_TRUE(otherPub);
  EXPECT_NE(EVP_PKEY_eq(priv.get(), otherPub.get()), 1);
  EXPECT_FALSE(signsAndVerifies(priv.get(), otherPub.get()));
}

TEST(PkiServiceAccount, KeepsTheKeyAndRebuildsALostPublicKey) {
  TempDir tmp;
  auto first = serviceAccountKeyPair(tmp.path());
  ASSERT_TRUE(first.isOk());
  std::string keyPem = readText(first->private_key_path), pubPem = readText(first->public_key_path);
  auto second = serviceAccountKeyPair(tmp.path());
  ASSERT_TRUE(second.isOk());
  EXPECT_TRUE(second->reused);
  EXPECT_EQ(readText(second->private_key_path), keyPem);
  std::filesystem::remove(first->public_key_path);
  auto third = serviceAccountKeyPair(tmp.path());
  ASSERT_TRUE(third.isOk());
  EXPECT_TRUE(third->reused);
  EXPECT_EQ(readText(third->private_key_path), keyPem);
  EXPECT_EQ(readText(third->public_key_path), pubPem);
}

TEST(PkiServiceAccount, CorruptKeyIsReplaced) {
  TempDir tmp;
  auto first = serviceAccountKeyPair(tmp.path());
  ASSERT_TRUE(first.isOk());
  std::string oldKey = readText(first->private_key_path);
  std::ofstream(first->private_key_path, std::ios::trunc) << "-----BEGIN PRIVATE KEY-----\nxx\n";
  auto second = serviceAccountKeyPair(tmp.path());
  ASSERT_TRUE(second.isOk()) << second.status().toString();
  EXPECT_FALSE(second->reused);
  std::string newKey = readText(second->private_key_path);
  EXPECT_NE(newKey, oldKey);
  PkeyPtr priv = privateKeyFromPem(newKey);
  PkeyPtr pub = publicKeyFromPem(readText(second->public_key_path));
  ASSERT_TRUE(priv && pub);
  EXPECT_EQ(EVP_PKEY_eq(priv.get(), pub.get()), 1);
  EXPECT_EQ(fileMode(second->private_key_path), 0600u);
}

}  // namespace
}  // namespace petrel::sandbox::pki
