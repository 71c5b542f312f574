// signCertificate and certMismatch directly: a leaf never outlives its CA, and a certificate
// close to its end is reported as needing renewal.
#include "tools/sandbox/pki/certificate.h"

#include <gtest/gtest.h>

namespace petrel::sandbox::pki {
namespace {

PkeyPtr newKey() {
  auto key = generateRsaKey();
  EXPECT_TRUE(key.isOk()) << key.status().toString();
  return key ? std::move(*key) : nullptr;
}

TEST(PkiCertificate, LeafValidityIsCappedAtTheCasEnd) {
  PkeyPtr caKey = newKey(), leafKey = newKey();
  ASSERT_TRUE(caKey && leafKey);
  CertSpec caSpec{"short-ca", {}, {}, {}, CertUsage::kCa, 100};
  auto ca = signCertificate(caSpec, caKey.get(), nullptr, nullptr);
  ASSERT_TRUE(ca.isOk()) << ca.status().toString();
  CertSpec leafSpec{"leaf", {}, {"leaf.example"}, {}, CertUsage::kServer, 365};
  auto leaf = signCertificate(leafSpec, leafKey.get(), ca->get(), caKey.get());
  ASSERT_TRUE(leaf.isOk()) << leaf.status().toString();
  EXPECT_EQ(ASN1_TIME_compare(X509_get0_notAfter(leaf->get()), X509_get0_notAfter(ca->get())), 0);
  EXPECT_EQ(certMismatch(leaf->get(), leafSpec, leafKey.get(), caKey.get(), 30), "");
  // 100 days left: fine for a 30-day renewal margin, not for a 200-day one.
  EXPECT_EQ(certMismatch(leaf->get(), leafSpec, leafKey.get(), caKey.get(), 200),
            "expires within 200 days");
  // Checked against a key that did not sign it, it is not this CA's certificate.
  EXPECT_EQ(certMismatch(leaf->get(), leafSpec, leafKey.get(), leafKey.get(), 30),
            "not signed by this CA");
}

}  // namespace
}  // namespace petrel::sandbox::pki
