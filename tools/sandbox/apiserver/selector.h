// Label selectors (=, ==, !=, in, notin, exists, !exists) and field selectors (=, ==, !=):
// parsing the query-string form and matching objects.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace petrel::apiserver {

struct LabelRequirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op = Op::kEquals;
  std::vector<std::string> values;
};

class LabelSelector {
 public:
  // Parses "a=b,c!=d,e in (x,y),f notin (z),g,!h". Empty text selects everything.
  static Result<LabelSelector> parse(const std::string& text);
  // True when `labels` (a JSON object of strings, or null) satisfies every requirement.
  bool matches(const nlohmann::json& labels) const;
  bool empty() const { return reqs_.empty(); }
  const std::vector<LabelRequirement>& requirements() const { return reqs_; }

 private:
  std::vector<LabelRequirement> reqs_;
};

struct FieldRequirement {
  std::string field;  // e.g. "metadata.name", "spec.nodeName"
  bool negate = false;
  std::string value;
};

class FieldSelector {
 public:
  // Parses "metadata.name=x,spec.nodeName!=y". `allowedFields` lists the fields this resource
  // supports; any other field is an error ("field label not supported: ...").
  static Result<FieldSelector> parse(const std::string& text,
                                     const std::vector<std::string>& allowedFields);
  bool matches(const nlohmann::json& object) const;
  bool empty() const { return reqs_.empty(); }

 private:
  std::vector<FieldRequirement> reqs_;
};

// The value of a dotted field path in `object` as a string ("" when missing).
std::string fieldValue(const nlohmann::json& object, const std::string& dottedPath);

}  // namespace petrel::apiserver
