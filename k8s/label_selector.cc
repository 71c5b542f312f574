// LabelSelector: decoding with the API server's validation, matching, kubectl's text form.
#include "k8s/label_selector.h"

#include <algorithm>

#include "field_reader.h"

namespace petrel::k8s {

using nlohmann::json;

namespace {

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// At most 63 of [-A-Za-z0-9_.], alphanumeric at both ends (the name part of a key, a value).
bool isLabelName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  if (!isAlnum(name.front()) || !isAlnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// RFC 1123 subdomain: dot-separated lowercase labels of [-a-z0-9], alphanumeric at both ends.
bool isDnsSubdomain(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    size_t end = dot == std::string::npos ? name.size() : dot;
    if (end == start) return false;
    for (size_t i = start; i < end; ++i) {
      char c = name[i];
      bool lower_alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (!lower_alnum && (c != '-' || i == start || i + 1 == end)) return false;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

Result<SelectorOperator> parseOperator(const std::string& text) {
  if (text == "In") return SelectorOperator::kIn;
  if (text == "NotIn") return SelectorOperator::kNotIn;
  if (text == "Exists") return SelectorOperator::kExists;
  if (text == "DoesNotExist") return SelectorOperator::kDoesNotExist;
  return Status(Code::kInvalidArgument, "'" + text + "' is not a valid selector operator");
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

Result<LabelRequirement> decodeRequirement(const json& item, const FieldReader& r) {
  LabelRequirement req;
  PETREL_ASSIGN(req.key, r.str(item, "key"));
  if (!isQualifiedName(req.key)) {
    return r.error("key", "'" + req.key + "' is not a valid label key (a qualified name)");
  }
  std::string op;
  PETREL_ASSIGN(op, r.str(item, "operator"));
  auto parsed = parseOperator(op);
  if (!parsed) return r.error("operator", parsed.status().message());
  req.op = *parsed;
  PETREL_ASSIGN(req.values, r.stringList(item, "values"));
  const bool takes_values = req.op == SelectorOperator::kIn || req.op == SelectorOperator::kNotIn;
  if (takes_values && req.values.empty()) {
    return r.error("values", "must be specified when operator is In or NotIn");
  }
  if (!takes_values && !req.values.empty()) {
    return r.error("values", "may not be specified when operator is Exists or DoesNotExist");
  }
  std::sort(req.values.begin(), req.values.end());
  req.values.erase(std::unique(req.values.begin(), req.values.end()), req.values.end());
  return req;
}

}  // namespace

bool isQualifiedName(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return isLabelName(key);
  if (key.find('/', slash + 1) != std::string::npos) return false;
  return isDnsSubdomain(key.substr(0, slash)) && isLabelName(key.substr(slash + 1));
}

bool isLabelValue(const std::string& value) {
  return value.empty() || isLabelName(value);
}

bool LabelRequirement::matches(const Labels& labels) const {
  auto it = labels.find(key);
  const bool present = it != labels.end();
  auto listed = [&] {
    return present && std::binary_search(values.begin(), values.end(), it->second);
  };
  switch (op) {
    case SelectorOperator::kIn:
      return listed();
    case SelectorOperator::kNotIn:
      return !listed();
    case SelectorOperator::kExists:
      return present;
    case SelectorOperator::kDoesNotExist:
      return !present;
  }
  return false;
}

std::string LabelRequirement::str() const {
  switch (op) {
    case SelectorOperator::kIn:
      return key + " in (" + joined(values) + ")";
    case SelectorOperator::kNotIn:
      return key + " notin (" + joined(values) + ")";
    case SelectorOperator::kExists:
      return key;
    case SelectorOperator::kDoesNotExist:
      return "!" + key;
  }
  return key;
}

bool LabelSelector::matches(const Labels& labels) const {
  for (const auto& [key, value] : match_labels) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return std::all_of(match_expressions.begin(), match_expressions.end(),
                     [&](const LabelRequirement& req) { return req.matches(labels); });
}

std::string LabelSelector::str() const {
  std::vector<std::string> parts;
  for (const auto& [key, value] : match_labels) parts.push_back(key + "=" + value);
  for (const auto& req : match_expressions) parts.push_back(req.str());
  return joined(parts);
}

Result<LabelSelector> decodeLabelSelector(const json& selector, const std::string& what,
                                          const std::string& path) {
  LabelSelector out;
  if (selector.is_null()) return out;
  if (!selector.is_object()) return FieldReader(what).error(path, "expected a label selector");
  const FieldReader r = FieldReader(what).within(path);
  PETREL_ASSIGN(out.match_labels, r.stringMap(selector, "matchLabels"));
  for (const auto& [key, value] : out.match_labels) {
    if (!isQualifiedName(key)) {
      return r.error("matchLabels", "'" + key + "' is not a valid label key (a qualified name)");
    }
    if (!isLabelValue(value)) {
      return r.error("matchLabels." + key, "'" + value + "' is not a valid label value");
    }
  }
  std::vector<const json*> expressions;
  PETREL_ASSIGN(expressions, r.array(selector, "matchExpressions"));
  for (size_t i = 0; i < expressions.size(); ++i) {
    const FieldReader item_reader = r.within(indexed("matchExpressions", i));
    if (!expressions[i]->is_object()) {
      return r.error(indexed("matchExpressions", i), "expected a requirement (key, operator)");
    }
    LabelRequirement req;
    PETREL_ASSIGN(req, decodeRequirement(*expressions[i], item_reader));
    out.match_expressions.push_back(std::move(req));
  }
  return out;
}

Result<std::optional<LabelSelector>> decodeOptionalSelector(const json& parent,
                                                            const std::string& key,
                                                            const FieldReader& r) {
  const json* value = nullptr;
  PETREL_ASSIGN(value, r.object(parent, key));
  if (!value) return std::optional<LabelSelector>();
  auto selector = decodeLabelSelector(*value, r.what(), r.pathOf(key));
  if (!selector) return selector.status();
  return std::optional<LabelSelector>(std::move(*selector));
}

}  // namespace petrel::k8s
