// LabelSelector: Kubernetes' metav1.LabelSelector (matchLabels and matchExpressions, all ANDed)
// as policies use it, with its decoder, matching against a set of labels, and kubectl's text form.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace petrel::k8s {

using Labels = std::map<std::string, std::string>;

enum class SelectorOperator { kIn, kNotIn, kExists, kDoesNotExist };

// One entry of matchExpressions.
struct LabelRequirement {
  std::string key;
  SelectorOperator op = SelectorOperator::kExists;
  std::vector<std::string> values;  // In/NotIn: one or more, sorted, no duplicates; else none

  // In: the label is set to one of the values. NotIn: it is absent or set to none of them.
  // Exists / DoesNotExist: the key is present / absent.
  bool matches(const Labels& labels) const;
  // kubectl's form: "tier in (a,b)", "tier notin (a,b)", "legacy", "!legacy".
  std::string str() const;
  bool operator==(const LabelRequirement&) const = default;
};

struct LabelSelector {
  Labels match_labels;
  std::vector<LabelRequirement> match_expressions;  // in the order written

  // True when the labels satisfy every matchLabels entry and every requirement.
  bool matches(const Labels& labels) const;
  // The empty selector ({}) selects everything.
  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
  // kubectl's selector syntax for people: matchLabels by key, then the requirements as written,
  // e.g. "app=web,tier in (a,b),!legacy". The empty selector is "" (as kubectl prints it).
  std::string str() const;
  bool operator==(const LabelSelector&) const = default;
};

// Decodes the selector `selector` found at `path` of the object `what` ("NetworkPolicy ns/a").
// A null value reads as the empty selector; callers that tell absent from empty check first.
// Errors are INVALID_ARGUMENT "what: path.matchExpressions[0].operator: ...". Validation is the
// API server's: label keys are qualified names, matchLabels values are label values, In/NotIn
// need values, Exists/DoesNotExist take none, other operators are unknown. Values of In/NotIn are
// not checked for syntax: the server keeps old objects with such values and they match nothing.
Result<LabelSelector> decodeLabelSelector(const nlohmann::json& selector, const std::string& what,
                                          const std::string& path);

// Kubernetes' syntax checks (k8s.io/apimachinery validation), for selectors and policies.
// A label key: an optional DNS subdomain prefix and "/", then a name of at most 63 characters.
bool isQualifiedName(const std::string& key);
// A label value: empty, or at most 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends.
bool isLabelValue(const std::string& value);

}  // namespace petrel::k8s
