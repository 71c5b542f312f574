// Type-checked reading of an API object's JSON for the decoders of this directory: every error is
// INVALID_ARGUMENT naming the object and the path of the offending field, and nothing throws.
// Internal to petrel_k8s_objects (staged for no other target).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/ip.h"
#include "common/status.h"
#include "k8s/label_selector.h"
#include "k8s/objects.h"

namespace petrel::k8s {

// Field access that reports the path of the offending field. Paths given to the accessors are
// looked up from the JSON value passed in; errors prefix them with the reader's own prefix, so a
// reader `within("spec.ingress[2]")` reads a rule's "from" and reports "spec.ingress[2].from".
class FieldReader {
 public:
  explicit FieldReader(std::string what) : what_(std::move(what)) {}

  Status error(const std::string& path, const std::string& problem) const {
    return makeError(Code::kInvalidArgument, "{}: {}{}: {}", what_, prefix_, path, problem);
  }
  const std::string& what() const { return what_; }
  void setWhat(std::string what) { what_ = std::move(what); }
  // The full path of `path` read by this reader: "spec.ingress[2].from".
  std::string pathOf(const std::string& path) const { return prefix_ + path; }
  // A reader for the value at `path` (e.g. "spec.ingress[2]"), whose errors carry that path.
  FieldReader within(const std::string& path) const {
    FieldReader inner = *this;
    inner.prefix_ = prefix_ + path + ".";
    return inner;
  }

  // Returns the object at `path` ("a.b.c") or nullptr when absent/null; error on wrong type.
  Result<const nlohmann::json*> object(const nlohmann::json& from, const std::string& path) const;
  // The JSON object at `path`, never nullptr: "missing" when absent, "expected an object" else.
  Result<const nlohmann::json*> requiredObject(const nlohmann::json& from,
                                               const std::string& path) const;
  Result<std::string> str(const nlohmann::json& from, const std::string& path,
                          const std::string& def = "") const;
  Result<int64_t> integer(const nlohmann::json& from, const std::string& path,
                          int64_t def = 0) const;
  Result<bool> boolean(const nlohmann::json& from, const std::string& path, bool def) const;
  // The entries of the list at `path`: empty when absent, an error when not a list.
  Result<std::vector<const nlohmann::json*>> array(const nlohmann::json& from,
                                                   const std::string& path) const;
  // A list of strings at `path` (empty when absent); errors name `label` (default: path).
  Result<std::vector<std::string>> stringList(const nlohmann::json& from, const std::string& path,
                                              const std::string& label = "") const;
  Result<std::map<std::string, std::string>> stringMap(const nlohmann::json& from,
                                                       const std::string& path) const;
  Result<Ipv4Addr> ipv4(const std::string& text, const std::string& path) const;
  // A port number at `path`; absent (or 0 when not required) reads as 0.
  Result<uint16_t> port(const nlohmann::json& from, const std::string& path, bool required) const;
  // TCP (the default when absent), UDP or SCTP.
  Result<std::string> protocol(const nlohmann::json& from, const std::string& path) const;

 private:
  std::string what_;
  std::string prefix_;
};

// "name[index]", the API server's way of writing a list entry's path.
inline std::string indexed(const std::string& name, size_t index) {
  return name + "[" + std::to_string(index) + "]";
}

// A CIDR of either family as written in a policy. IPv4 ones are modelled (Ipv4Cidr); IPv6 ones
// are validated and kept as bytes only, until Petrel has an IPv6 datapath.
struct AnyCidr {
  bool ipv6 = false;
  Ipv4Cidr v4;
  std::array<uint8_t, 16> v6{};  // network address, host bits cleared
  uint8_t prefix_len = 0;
  bool had_host_bits = false;  // "10.1.2.3/8": the server rejects it where CIDRs must be canonical
  // True when `inner` lies inside this CIDR and is strictly smaller (a valid ipBlock `except`).
  bool strictlyContains(const AnyCidr& inner) const;
};
// Parses "10.0.0.0/8" or "fd00::/64"; nullopt when it is neither.
std::optional<AnyCidr> parseAnyCidr(const std::string& text);

// The selector at `key` of `parent`; nullopt when absent or null (an empty selector is {}).
Result<std::optional<LabelSelector>> decodeOptionalSelector(const nlohmann::json& parent,
                                                            const std::string& key,
                                                            const FieldReader& r);

// The metadata of `obj` (a `kind`), with the reader's `what` set to "kind namespace/name".
Result<ObjectMeta> decodeMetaOf(const nlohmann::json& obj, bool namespaced, FieldReader& r,
                                const char* kind);

}  // namespace petrel::k8s

// Assigns the value of a Result-returning `expr` to `lhs`, or returns its error.
#define PETREL_ASSIGN(lhs, expr)               \
  do {                                         \
    auto petrel_v_ = (expr);                   \
    if (!petrel_v_) return petrel_v_.status(); \
    (lhs) = std::move(*petrel_v_);             \
  } while (0)
