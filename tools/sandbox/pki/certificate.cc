// signCertificate builds X.509 v3 certificates field by field (SANs as GENERAL_NAMEs, so no
// name is ever parsed as OpenSSL config text); certMismatch reads the same fields back.
#include "tools/sandbox/pki/certificate.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace petrel::sandbox::pki {

namespace {

struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;

// The 4 or 16 bytes of an IP address in text form; empty if it is not one.
std::string ipBytes(const std::string& ip) {
  ASN1_OCTET_STRING* raw = a2i_IPADDRESS(ip.c_str());
  if (!raw) return {};
  std::string out(reinterpret_cast<const char*>(ASN1_STRING_get0_data(raw)),
                  static_cast<size_t>(ASN1_STRING_length(raw)));
  ASN1_OCTET_STRING_free(raw);
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

Result<GeneralNamesPtr> sanNames(const CertSpec& spec) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return sslError("allocate subjectAltName");
  for (const auto& dns : spec.dns_sans) {
    if (dns.empty()) return Status(Code::kInvalidArgument, "empty DNS name in SANs");
    GENERAL_NAME* gen = GENERAL_NAME_new();
    ASN1_IA5STRING* str = ASN1_IA5STRING_new();
    if (!gen || !str || ASN1_STRING_set(str, dns.data(), static_cast<int>(dns.size())) != 1) {
      GENERAL_NAME_free(gen);
      ASN1_IA5STRING_free(str);
      return sslError("encode DNS SAN " + dns);
    }
    GENERAL_NAME_set0_value(gen, GEN_DNS, str);
    sk_GENERAL_NAME_push(names.get(), gen);
  }
  for (const auto& ip : spec.ip_sans) {
    ASN1_OCTET_STRING* raw = a2i_IPADDRESS(ip.c_str());
    if (!raw) return Status(Code::kInvalidArgument, "IP SAN \"" + ip + "\" is not an IP address");
    GENERAL_NAME* gen = GENERAL_NAME_new();
    if (!gen) {
      ASN1_OCTET_STRING_free(raw);
      return sslError("encode IP SAN " + ip);
    }
    GENERAL_NAME_set0_value(gen, GEN_IPADD, raw);
    sk_GENERAL_NAME_push(names.get(), gen);
  }
  return names;
}

bool addSubject(X509* cert, const CertSpec& spec) {
  X509_NAME* name = X509_get_subject_name(cert);
  for (const auto& o : spec.organizations) {
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1,
                                   0) != 1) {
      return false;
    }
  }
  return X509_NAME_add_entry_by_txt(
             name, "CN", MBSTRING_UTF8,
             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0) == 1;
}

std::vector<std::string> nameEntries(X509* cert, int nid) {
  std::vector<std::string> out;
  X509_NAME* name = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, data);
    if (n < 0) continue;
    out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
  }
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

Result<X509Ptr> signCertificate(const CertSpec& spec, EVP_PKEY* key, X509* issuer,
                                EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert) return sslError("X509_new");
  X509* c = cert.get();
  BIGNUM* serial = BN_new();
  bool ok = serial && BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(c)) != nullptr;
  BN_free(serial);
  if (!ok) return sslError("make serial number");
  ok = X509_set_version(c, X509_VERSION_3) == 1 &&
       X509_gmtime_adj(X509_getm_notBefore(c), -3600) != nullptr &&
       X509_gmtime_adj(X509_getm_notAfter(c), spec.valid_days * 24 * 3600) != nullptr &&
       X509_set_pubkey(c, key) == 1 && addSubject(c, spec);
  if (!ok) return sslError("fill certificate for " + spec.common_name);
  X509* iss = issuer ? issuer : c;
  if (X509_set_issuer_name(c, X509_get_subject_name(iss)) != 1) return sslError("set issuer");
  // A certificate never outlives its issuer.
  if (issuer && ASN1_TIME_compare(X509_get0_notAfter(c), X509_get0_notAfter(issuer)) > 0 &&
      X509_set1_notAfter(c, X509_get0_notAfter(issuer)) != 1) {
    return sslError("cap validity of certificate for " + spec.common_name);
  }
  ok = addExtension(c, iss, NID_subject_key_identifier, "hash");
  if (spec.usage == CertUsage::kCa) {
    ok = ok && addExtension(c, iss, NID_basic_constraints, "critical,CA:TRUE") &&
         addExtension(c, iss, NID_key_usage,
                      "critical,digitalSignature,keyEncipherment,keyCertSign");
  } else {
    ok = ok && addExtension(c, iss, NID_basic_constraints, "critical,CA:FALSE") &&
         addExtension(c, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
         addExtension(c, iss, NID_ext_key_usage,
                      spec.usage == CertUsage::kServer ? "serverAuth" : "clientAuth");
    if (issuer) ok = ok && addExtension(c, iss, NID_authority_key_identifier, "keyid:always");
  }
  if (!ok) return sslError("add extensions to certificate for " + spec.common_name);
  if (!spec.dns_sans.empty() || !spec.ip_sans.empty()) {
    auto names = sanNames(spec);
    if (!names) return names.status();
    if (X509_add1_ext_i2d(c, NID_subject_alt_name, names->get(), 0, X509V3_ADD_DEFAULT) != 1) {
      return sslError("add subjectAltName");
    }
  }
  if (X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) == 0) {
    return sslError("sign certificate for " + spec.common_name);
  }
  return cert;
}

std::string certMismatch(X509* cert, const CertSpec& spec, EVP_PKEY* key, EVP_PKEY* issuer_key,
                         long min_days_left) {
  if (issuer_key && X509_verify(cert, issuer_key) != 1) {
    ERR_clear_error();
    return "not signed by this CA";
  }
  if (key && X509_check_private_key(cert, key) != 1) {
    ERR_clear_error();
    return "does not belong to the key";
  }
  time_t horizon = std::time(nullptr) + min_days_left * 24 * 3600;
  if (X509_cmp_time(X509_get0_notAfter(cert), &horizon) <= 0) {
    return "expires within " + std::to_string(min_days_left) + " days";
  }
  if (nameEntries(cert, NID_commonName) != std::vector<std::string>{spec.common_name}) {
    return "subject CN differs";
  }
  if (sorted(nameEntries(cert, NID_organizationName)) != sorted(spec.organizations)) {
    return "subject O differs";
  }
  bool isCa = X509_check_ca(cert) != 0;
  if (isCa != (spec.usage == CertUsage::kCa)) return "CA flag differs";
  if (spec.usage != CertUsage::kCa) {
    uint32_t want = spec.usage == CertUsage::kServer ? XKU_SSL_SERVER : XKU_SSL_CLIENT;
    if ((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) == 0 ||
        X509_get_extended_key_usage(cert) != want) {
      return "extended key usage differs";
    }
  }
  std::vector<std::string> dns, ips;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names.get(), i);
    if (gen->type == GEN_DNS) {
      const ASN1_STRING* s = gen->d.dNSName;
      dns.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                      static_cast<size_t>(ASN1_STRING_length(s)))));
    } else if (gen->type == GEN_IPADD) {
      const ASN1_STRING* s = gen->d.iPAddress;
      ips.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
    } else {
      return "SANs differ";
    }
  }
  std::vector<std::string> wantDns, wantIps;
  for (const auto& d : spec.dns_sans) wantDns.push_back(lower(d));
  for (const auto& ip : spec.ip_sans) wantIps.push_back(ipBytes(ip));
  auto dedupe = [](std::vector<std::string> v) {
    v = sorted(std::move(v));
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  };
  if (dedupe(dns) != dedupe(wantDns) || dedupe(ips) != dedupe(wantIps)) return "SANs differ";
  return {};
}

}  // namespace petrel::sandbox::pki
