// NetworkPolicy (networking.k8s.io/v1): the typed, validated model the policy compiler reads,
// and its decoder. Validation is the API server's, so what it accepted decodes and the rest is
// INVALID_ARGUMENT naming the policy and the field ("spec.ingress[1].from[0].ipBlock.except[0]").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/ip.h"
#include "common/status.h"
#include "k8s/label_selector.h"
#include "k8s/objects.h"

namespace petrel::k8s {

enum class L4Protocol { kTcp, kUdp, kSctp };
// "TCP", "UDP", "SCTP": as the API writes them.
const char* l4ProtocolName(L4Protocol protocol);

// ipBlock: a CIDR minus the CIDRs in `except`. IPv6 blocks are validated the same way but not
// modelled: `ipv6` is set, `cidr` and `except` stay empty, and the compiler skips them until
// Petrel has an IPv6 datapath.
struct IpBlock {
  std::string cidr_text;  // as written, for people
  bool ipv6 = false;
  Ipv4Cidr cidr;                 // host bits cleared ("10.0.0.1/8" is accepted, as by the API)
  std::vector<Ipv4Cidr> except;  // each strictly inside `cidr`
};

// One entry of `from` or `to`. Either a selector pair or an ipBlock, never both. Absent and empty
// selectors differ: podSelector alone means pods of the policy's namespace, namespaceSelector
// alone means every pod of the selected namespaces, both mean the selected pods of the selected
// namespaces; an empty selector selects all.
struct NetworkPolicyPeer {
  std::optional<LabelSelector> pod_selector;
  std::optional<LabelSelector> namespace_selector;
  std::optional<IpBlock> ip_block;
};

// One entry of `ports`.
struct NetworkPolicyPort {
  L4Protocol protocol = L4Protocol::kTcp;
  // Which ports: all of the protocol's when `port` is 0 and `port_name` empty; a named port
  // (IANA_SVC_NAME, resolved per destination pod) when `port_name` is set; else `port`, or the
  // inclusive range port..end_port when end_port is set (end_port >= port).
  uint16_t port = 0;
  std::string port_name;
  uint16_t end_port = 0;
};

// An ingress or egress rule. An empty `peers` (from/to absent or []) matches every source or
// destination; an empty `ports` matches every port and protocol.
struct NetworkPolicyRule {
  std::vector<NetworkPolicyPeer> peers;
  std::vector<NetworkPolicyPort> ports;
};

struct NetworkPolicy {
  ObjectMeta meta;
  LabelSelector pod_selector;  // the pods of meta.namespace_ it applies to; empty: all of them
  // spec.policyTypes: which directions the policy isolates. When the list is absent or empty the
  // API server's default applies: ingress always, egress when spec.egress has rules.
  struct PolicyTypes {
    bool ingress = false;
    bool egress = false;
  } policy_types;
  std::vector<NetworkPolicyRule> ingress;  // in the order written
  std::vector<NetworkPolicyRule> egress;
};

Result<NetworkPolicy> decodeNetworkPolicy(const nlohmann::json& obj);

// IANA_SVC_NAME, what a named port must be: 1-15 of [-a-z0-9] with at least one letter, no '-'
// at either end and no "--".
bool isServiceName(const std::string& name);

}  // namespace petrel::k8s
