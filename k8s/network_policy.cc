// NetworkPolicy decoding: networking.k8s.io/v1 with the API server's validation and defaults.
#include "k8s/network_policy.h"

#include "field_reader.h"

namespace petrel::k8s {

using nlohmann::json;

namespace {

Result<IpBlock> decodeIpBlock(const json& block, const FieldReader& peer_reader) {
  if (!block.is_object()) return peer_reader.error("ipBlock", "expected an object");
  const FieldReader r = peer_reader.within("ipBlock");
  IpBlock out;
  PETREL_ASSIGN(out.cidr_text, r.str(block, "cidr"));
  if (out.cidr_text.empty()) return r.error("cidr", "missing");
  auto cidr = parseAnyCidr(out.cidr_text);
  if (!cidr) return r.error("cidr", "'" + out.cidr_text + "' is not a CIDR");
  out.ipv6 = cidr->ipv6;
  if (!out.ipv6) out.cidr = cidr->v4;
  std::vector<std::string> except;
  PETREL_ASSIGN(except, r.stringList(block, "except"));
  for (size_t i = 0; i < except.size(); ++i) {
    auto inner = parseAnyCidr(except[i]);
    if (!inner) return r.error(indexed("except", i), "'" + except[i] + "' is not a CIDR");
    if (!cidr->strictlyContains(*inner)) {
      return r.error(indexed("except", i),
                     "'" + except[i] + "' is not a strict subset of cidr '" + out.cidr_text + "'");
    }
    if (!out.ipv6) out.except.push_back(inner->v4);
  }
  return out;
}

Result<NetworkPolicyPeer> decodePeer(const json& item, const FieldReader& rule_reader,
                                     const std::string& at) {
  if (!item.is_object()) return rule_reader.error(at, "expected a peer");
  const FieldReader r = rule_reader.within(at);
  NetworkPolicyPeer peer;
  PETREL_ASSIGN(peer.pod_selector, decodeOptionalSelector(item, "podSelector", r));
  PETREL_ASSIGN(peer.namespace_selector, decodeOptionalSelector(item, "namespaceSelector", r));
  const json* block = nullptr;
  PETREL_ASSIGN(block, r.object(item, "ipBlock"));
  if (block) PETREL_ASSIGN(peer.ip_block, decodeIpBlock(*block, r));
  const bool has_selector = peer.pod_selector || peer.namespace_selector;
  if (!has_selector && !block) {
    return rule_reader.error(at, "must specify a peer (podSelector, namespaceSelector or ipBlock)");
  }
  if (has_selector && block) {
    return rule_reader.error(at, "may not specify both ipBlock and a selector");
  }
  return peer;
}

Result<NetworkPolicyPort> decodePort(const json& item, const FieldReader& rule_reader,
                                     const std::string& at) {
  if (!item.is_object()) return rule_reader.error(at, "expected a port");
  const FieldReader r = rule_reader.within(at);
  NetworkPolicyPort out;
  std::string protocol;
  PETREL_ASSIGN(protocol, r.protocol(item, "protocol"));
  out.protocol = protocol == "UDP"    ? L4Protocol::kUdp
                 : protocol == "SCTP" ? L4Protocol::kSctp
                                      : L4Protocol::kTcp;
  const json* port = nullptr;
  const json* end_port = nullptr;
  PETREL_ASSIGN(port, r.object(item, "port"));
  PETREL_ASSIGN(end_port, r.object(item, "endPort"));
  if (port && port->is_string()) {
    out.port_name = port->get<std::string>();
    if (!isServiceName(out.port_name)) {
      return r.error("port", "'" + out.port_name + "' is not a valid port name (IANA_SVC_NAME)");
    }
    if (end_port) return r.error("endPort", "may not be specified when port is a name");
    return out;
  }
  if (port) PETREL_ASSIGN(out.port, r.port(item, "port", true));
  if (end_port) {
    if (!port) return r.error("endPort", "may not be specified when port is not");
    PETREL_ASSIGN(out.end_port, r.port(item, "endPort", true));
    if (out.end_port < out.port) {
      return r.error("endPort", std::to_string(out.end_port) + " is less than port " +
                                    std::to_string(out.port));
    }
  }
  return out;
}

// The rules of spec.ingress (peers in "from") or spec.egress (peers in "to"), in order.
Result<std::vector<NetworkPolicyRule>> decodeRules(const json& spec, const FieldReader& r,
                                                   const std::string& key,
                                                   const std::string& peers_key) {
  std::vector<const json*> items;
  PETREL_ASSIGN(items, r.array(spec, key));
  std::vector<NetworkPolicyRule> rules;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i]->is_object()) return r.error(indexed(key, i), "expected a rule");
    const FieldReader rule_reader = r.within(indexed(key, i));
    NetworkPolicyRule rule;
    std::vector<const json*> peers;
    PETREL_ASSIGN(peers, rule_reader.array(*items[i], peers_key));
    for (size_t j = 0; j < peers.size(); ++j) {
      NetworkPolicyPeer peer;
      PETREL_ASSIGN(peer, decodePeer(*peers[j], rule_reader, indexed(peers_key, j)));
      rule.peers.push_back(std::move(peer));
    }
    std::vector<const json*> ports;
    PETREL_ASSIGN(ports, rule_reader.array(*items[i], "ports"));
    for (size_t j = 0; j < ports.size(); ++j) {
      NetworkPolicyPort port;
      PETREL_ASSIGN(port, decodePort(*ports[j], rule_reader, indexed("ports", j)));
      rule.ports.push_back(std::move(port));
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

}  // namespace

const char* l4ProtocolName(L4Protocol protocol) {
  switch (protocol) {
    case L4Protocol::kTcp:
      return "TCP";
    case L4Protocol::kUdp:
      return "UDP";
    case L4Protocol::kSctp:
      return "SCTP";
  }
  return "?";
}

bool isServiceName(const std::string& name) {
  if (name.empty() || name.size() > 15) return false;
  if (name.front() == '-' || name.back() == '-' || name.find("--") != std::string::npos) {
    return false;
  }
  bool has_letter = false;
  for (char c : name) {
    const bool letter = c >= 'a' && c <= 'z';
    has_letter = has_letter || letter;
    if (!letter && !(c >= '0' && c <= '9') && c != '-') return false;
  }
  return has_letter;
}

Result<NetworkPolicy> decodeNetworkPolicy(const json& obj) {
  FieldReader r("NetworkPolicy");
  NetworkPolicy np;
  PETREL_ASSIGN(np.meta, decodeMetaOf(obj, true, r, "NetworkPolicy"));
  const json* spec = nullptr;
  PETREL_ASSIGN(spec, r.requiredObject(obj, "spec"));
  const FieldReader spec_reader = r.within("spec");
  std::optional<LabelSelector> pod_selector;
  PETREL_ASSIGN(pod_selector, decodeOptionalSelector(*spec, "podSelector", spec_reader));
  np.pod_selector = pod_selector.value_or(LabelSelector{});
  PETREL_ASSIGN(np.ingress, decodeRules(*spec, spec_reader, "ingress", "from"));
  PETREL_ASSIGN(np.egress, decodeRules(*spec, spec_reader, "egress", "to"));

  std::vector<std::string> types;
  PETREL_ASSIGN(types, spec_reader.stringList(*spec, "policyTypes"));
  if (types.size() > 2) return spec_reader.error("policyTypes", "may not name more than two");
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] == "Ingress") {
      np.policy_types.ingress = true;
    } else if (types[i] == "Egress") {
      np.policy_types.egress = true;
    } else {
      return spec_reader.error(indexed("policyTypes", i),
                               "expected Ingress or Egress, not '" + types[i] + "'");
    }
  }
  if (types.empty()) {
    np.policy_types.ingress = true;
    np.policy_types.egress = !np.egress.empty();
  }
  return np;
}

}  // namespace petrel::k8s
