// ClusterNetworkPolicy decoding with the validation of the v0.3.1 CRD.
#include "k8s/cluster_network_policy.h"

#include <algorithm>
#include <set>

#include "field_reader.h"

namespace petrel::k8s {

using nlohmann::json;

namespace {

// The fields of `item` among `known` that are set (present and not null), in `known`'s order.
std::vector<std::string> setFields(const json& item, const std::vector<const char*>& known) {
  std::vector<std::string> out;
  for (const char* field : known) {
    auto it = item.find(field);
    if (it != item.end() && !it->is_null()) out.emplace_back(field);
  }
  return out;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// "exactly one of a, b must be set (found: c, d)"
std::string exactlyOneOf(const std::vector<const char*>& known,
                         const std::vector<std::string>& found) {
  std::string text = "exactly one of " +
                     joined(std::vector<std::string>(known.begin(), known.end())) + " must be set";
  if (!found.empty()) text += " (found: " + joined(found) + ")";
  return text;
}

// The DomainName pattern of the CRD: an optional "*." and then two or more dot-separated labels
// of [-A-Za-z0-9_], alphanumeric at both ends, with an optional final dot.
bool isDomainName(std::string name) {
  if (name.rfind("*.", 0) == 0) name.erase(0, 2);
  if (!name.empty() && name.back() == '.') name.pop_back();
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  size_t labels = 0;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    size_t end = dot == std::string::npos ? name.size() : dot;
    if (end == start || !alnum(name[start]) || !alnum(name[end - 1])) return false;
    for (size_t i = start; i < end; ++i) {
      if (!alnum(name[i]) && name[i] != '-' && name[i] != '_') return false;
    }
    ++labels;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return labels >= 2;
}

// A list field with the CRD's MinItems=1 and MaxItems=25: absent reads as empty.
Result<std::vector<const json*>> boundedList(const json& parent, const std::string& key,
                                             const FieldReader& r) {
  const json* value = nullptr;
  PETREL_ASSIGN(value, r.object(parent, key));
  std::vector<const json*> items;
  PETREL_ASSIGN(items, r.array(parent, key));
  if (value && items.empty()) return r.error(key, "must have at least one entry");
  if (items.size() > kClusterPolicyMaxItems) {
    return r.error(key, "has " + std::to_string(items.size()) + " entries, more than " +
                            std::to_string(kClusterPolicyMaxItems));
  }
  return items;
}

// Strings of a bounded list that the CRD treats as a set (no duplicates).
Result<std::vector<std::string>> boundedStringSet(const json& parent, const std::string& key,
                                                  const FieldReader& r) {
  std::vector<const json*> items;
  PETREL_ASSIGN(items, boundedList(parent, key, r));
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i]->is_string()) return r.error(indexed(key, i), "expected a string");
    std::string text = items[i]->get<std::string>();
    if (!seen.insert(text).second) return r.error(indexed(key, i), "duplicate '" + text + "'");
    out.push_back(std::move(text));
  }
  return out;
}

// `namespaces` (a selector) or `pods` ({namespaceSelector, podSelector}) of `parent`, whichever
// `field` names.
Result<NamespacedPods> decodePods(const json& parent, const std::string& field,
                                  const FieldReader& r) {
  NamespacedPods out;
  if (field == "namespaces") {
    std::optional<LabelSelector> selector;
    PETREL_ASSIGN(selector, decodeOptionalSelector(parent, "namespaces", r));
    out.by_namespace_only = true;
    out.namespace_selector = selector.value_or(LabelSelector{});
    return out;
  }
  const json& pods = parent.at("pods");
  if (!pods.is_object()) return r.error("pods", "expected an object");
  const FieldReader pods_reader = r.within("pods");
  std::optional<LabelSelector> namespaces;
  std::optional<LabelSelector> selected_pods;
  PETREL_ASSIGN(namespaces, decodeOptionalSelector(pods, "namespaceSelector", pods_reader));
  PETREL_ASSIGN(selected_pods, decodeOptionalSelector(pods, "podSelector", pods_reader));
  if (!selected_pods) return pods_reader.error("podSelector", "missing");
  out.namespace_selector = namespaces.value_or(LabelSelector{});
  out.pod_selector = *selected_pods;
  return out;
}

Result<ClusterNetworkPolicyPeer> decodeNetworks(const json& item, const FieldReader& r) {
  ClusterNetworkPolicyPeer peer;
  peer.kind = ClusterNetworkPolicyPeer::Kind::kNetworks;
  std::vector<std::string> texts;
  PETREL_ASSIGN(texts, boundedStringSet(item, "networks", r));
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string& text = texts[i];
    auto cidr = parseAnyCidr(text);
    if (text.size() > kClusterPolicyMaxCidrLength || !cidr) {
      return r.error(indexed("networks", i), "'" + text + "' is not a CIDR");
    }
    if (cidr->had_host_bits) {
      return r.error(indexed("networks", i),
                     "'" + text + "' is not canonical: it has bits set after the prefix");
    }
    if (cidr->ipv6) {
      peer.ipv6_networks.push_back(text);
    } else {
      peer.networks.push_back(cidr->v4);
    }
  }
  return peer;
}

Result<ClusterNetworkPolicyPeer> decodePeer(const json& item, bool egress,
                                            const FieldReader& rule_reader, const std::string& at) {
  if (!item.is_object()) return rule_reader.error(at, "expected a peer");
  if (item.empty()) return rule_reader.error(at, "a peer must set one field");
  const FieldReader r = rule_reader.within(at);
  const std::vector<const char*> known =
      egress ? std::vector<const char*>{"namespaces", "pods", "networks", "nodes", "domainNames"}
             : std::vector<const char*>{"namespaces", "pods"};
  const std::vector<std::string> fields = setFields(item, known);
  ClusterNetworkPolicyPeer peer;
  if (fields.empty()) return peer;  // kUnknown: only fields of a newer API
  if (fields.size() > 1) return rule_reader.error(at, exactlyOneOf(known, fields));
  const std::string& field = fields[0];
  if (field == "namespaces" || field == "pods") {
    peer.kind = ClusterNetworkPolicyPeer::Kind::kPods;
    PETREL_ASSIGN(peer.pods, decodePods(item, field, r));
  } else if (field == "networks") {
    PETREL_ASSIGN(peer, decodeNetworks(item, r));
  } else if (field == "nodes") {
    peer.kind = ClusterNetworkPolicyPeer::Kind::kNodes;
    std::optional<LabelSelector> nodes;
    PETREL_ASSIGN(nodes, decodeOptionalSelector(item, "nodes", r));
    peer.nodes = nodes.value_or(LabelSelector{});
  } else {
    peer.kind = ClusterNetworkPolicyPeer::Kind::kDomainNames;
    PETREL_ASSIGN(peer.domain_names, boundedStringSet(item, "domainNames", r));
    for (size_t i = 0; i < peer.domain_names.size(); ++i) {
      if (!isDomainName(peer.domain_names[i])) {
        return r.error(indexed("domainNames", i),
                       "'" + peer.domain_names[i] + "' is not a domain name");
      }
    }
  }
  return peer;
}

// `destinationPort` of a tcp, udp or sctp entry: {number} or {range: {start, end}}.
Result<ClusterNetworkPolicyPort> decodeDestinationPort(const json& proto, const FieldReader& r) {
  const json* port = nullptr;
  PETREL_ASSIGN(port, r.requiredObject(proto, "destinationPort"));
  const FieldReader port_reader = r.within("destinationPort");
  const std::vector<const char*> known = {"number", "range"};
  const std::vector<std::string> fields = setFields(*port, known);
  if (fields.size() != 1) return r.error("destinationPort", exactlyOneOf(known, fields));
  ClusterNetworkPolicyPort out;
  if (fields[0] == "number") {
    PETREL_ASSIGN(out.first_port, port_reader.port(*port, "number", true));
    out.last_port = out.first_port;
    return out;
  }
  const json& range = port->at("range");
  if (!range.is_object()) return port_reader.error("range", "expected an object");
  const FieldReader range_reader = port_reader.within("range");
  PETREL_ASSIGN(out.first_port, range_reader.port(range, "start", true));
  PETREL_ASSIGN(out.last_port, range_reader.port(range, "end", true));
  if (out.first_port >= out.last_port) {
    return range_reader.error("end", std::to_string(out.last_port) + " is not greater than start " +
                                         std::to_string(out.first_port));
  }
  return out;
}

Result<ClusterNetworkPolicyPort> decodeProtocol(const json& item, const FieldReader& rule_reader,
                                                const std::string& at) {
  if (!item.is_object()) return rule_reader.error(at, "expected an object");
  const FieldReader r = rule_reader.within(at);
  const std::vector<const char*> known = {"tcp", "udp", "sctp", "destinationNamedPort"};
  const std::vector<std::string> fields = setFields(item, known);
  if (fields.size() != 1) return rule_reader.error(at, exactlyOneOf(known, fields));
  const std::string& field = fields[0];
  if (field == "destinationNamedPort") {
    ClusterNetworkPolicyPort out;
    PETREL_ASSIGN(out.named_port, r.str(item, field));
    if (out.named_port.empty()) return r.error(field, "empty");
    return out;
  }
  if (!item.at(field).is_object()) return r.error(field, "expected an object");
  ClusterNetworkPolicyPort out;
  PETREL_ASSIGN(out, decodeDestinationPort(item.at(field), r.within(field)));
  out.protocol = field == "udp"    ? L4Protocol::kUdp
                 : field == "sctp" ? L4Protocol::kSctp
                                   : L4Protocol::kTcp;
  return out;
}

Result<RuleAction> parseAction(const std::string& text) {
  if (text == "Accept") return RuleAction::kAccept;
  if (text == "Deny") return RuleAction::kDeny;
  if (text == "Pass") return RuleAction::kPass;
  return Status(Code::kInvalidArgument, "expected Accept, Deny or Pass, not '" + text + "'");
}

Result<ClusterNetworkPolicyRule> decodeRule(const json& item, bool egress, const FieldReader& r) {
  ClusterNetworkPolicyRule rule;
  PETREL_ASSIGN(rule.name, r.str(item, "name"));
  if (rule.name.size() > kClusterPolicyMaxRuleName) {
    return r.error("name",
                   "longer than " + std::to_string(kClusterPolicyMaxRuleName) + " characters");
  }
  std::string action;
  PETREL_ASSIGN(action, r.str(item, "action"));
  if (action.empty()) return r.error("action", "missing");
  auto parsed = parseAction(action);
  if (!parsed) return r.error("action", parsed.status().message());
  rule.action = *parsed;

  const std::string peers_key = egress ? "to" : "from";
  std::vector<const json*> peers;
  PETREL_ASSIGN(peers, boundedList(item, peers_key, r));
  if (peers.empty()) return r.error(peers_key, "missing");
  for (size_t i = 0; i < peers.size(); ++i) {
    ClusterNetworkPolicyPeer peer;
    PETREL_ASSIGN(peer, decodePeer(*peers[i], egress, r, indexed(peers_key, i)));
    rule.peers.push_back(std::move(peer));
  }
  std::vector<const json*> protocols;
  PETREL_ASSIGN(protocols, boundedList(item, "protocols", r));
  for (size_t i = 0; i < protocols.size(); ++i) {
    ClusterNetworkPolicyPort port;
    PETREL_ASSIGN(port, decodeProtocol(*protocols[i], r, indexed("protocols", i)));
    rule.protocols.push_back(std::move(port));
  }

  // The CRD's rule: a named port resolves against pods, so no peer may be addresses only.
  auto named = [](const ClusterNetworkPolicyPort& p) { return !p.named_port.empty(); };
  auto addresses = [](const ClusterNetworkPolicyPeer& p) {
    using Kind = ClusterNetworkPolicyPeer::Kind;
    return p.kind == Kind::kNetworks || p.kind == Kind::kNodes || p.kind == Kind::kDomainNames;
  };
  if (std::any_of(rule.protocols.begin(), rule.protocols.end(), named) &&
      std::any_of(rule.peers.begin(), rule.peers.end(), addresses)) {
    return r.error("protocols",
                   "destinationNamedPort may not be used with networks, nodes or "
                   "domainNames peers");
  }
  return rule;
}

Result<std::vector<ClusterNetworkPolicyRule>> decodeRules(const json& spec, bool egress,
                                                          const FieldReader& r) {
  const std::string key = egress ? "egress" : "ingress";
  std::vector<const json*> items;
  PETREL_ASSIGN(items, r.array(spec, key));
  if (items.size() > kClusterPolicyMaxItems) {
    return r.error(key, "has " + std::to_string(items.size()) + " rules, more than " +
                            std::to_string(kClusterPolicyMaxItems));
  }
  std::vector<ClusterNetworkPolicyRule> rules;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i]->is_object()) return r.error(indexed(key, i), "expected a rule");
    ClusterNetworkPolicyRule rule;
    PETREL_ASSIGN(rule, decodeRule(*items[i], egress, r.within(indexed(key, i))));
    rules.push_back(std::move(rule));
  }
  return rules;
}

Result<NamespacedPods> decodeSubject(const json& spec, const FieldReader& r) {
  const json* subject = nullptr;
  PETREL_ASSIGN(subject, r.requiredObject(spec, "subject"));
  const std::vector<const char*> known = {"namespaces", "pods"};
  const std::vector<std::string> fields = setFields(*subject, known);
  if (fields.size() != 1) return r.error("subject", exactlyOneOf(known, fields));
  return decodePods(*subject, fields[0], r.within("subject"));
}

}  // namespace

const char* policyTierName(PolicyTier tier) {
  return tier == PolicyTier::kAdmin ? "Admin" : "Baseline";
}

const char* ruleActionName(RuleAction action) {
  switch (action) {
    case RuleAction::kAccept:
      return "Accept";
    case RuleAction::kDeny:
      return "Deny";
    case RuleAction::kPass:
      return "Pass";
  }
  return "?";
}

Result<ClusterNetworkPolicy> decodeClusterNetworkPolicy(const json& obj) {
  FieldReader r("ClusterNetworkPolicy");
  ClusterNetworkPolicy policy;
  PETREL_ASSIGN(policy.meta, decodeMetaOf(obj, false, r, "ClusterNetworkPolicy"));
  const json* spec = nullptr;
  PETREL_ASSIGN(spec, r.requiredObject(obj, "spec"));
  const FieldReader spec_reader = r.within("spec");

  std::string tier;
  PETREL_ASSIGN(tier, spec_reader.str(*spec, "tier"));
  if (tier == "Admin") {
    policy.tier = PolicyTier::kAdmin;
  } else if (tier == "Baseline") {
    policy.tier = PolicyTier::kBaseline;
  } else {
    return spec_reader.error(
        "tier", tier.empty() ? "missing" : "expected Admin or Baseline, not '" + tier + "'");
  }
  const json* priority = nullptr;
  PETREL_ASSIGN(priority, spec_reader.object(*spec, "priority"));
  if (!priority) return spec_reader.error("priority", "missing");
  int64_t value = 0;
  PETREL_ASSIGN(value, spec_reader.integer(*spec, "priority"));
  if (value < 0 || value > kClusterPolicyMaxPriority) {
    return spec_reader.error("priority", std::to_string(value) + " is outside 0-" +
                                             std::to_string(kClusterPolicyMaxPriority));
  }
  policy.priority = static_cast<int32_t>(value);
  PETREL_ASSIGN(policy.subject, decodeSubject(*spec, spec_reader));
  PETREL_ASSIGN(policy.ingress, decodeRules(*spec, false, spec_reader));
  PETREL_ASSIGN(policy.egress, decodeRules(*spec, true, spec_reader));
  return policy;
}

}  // namespace petrel::k8s
