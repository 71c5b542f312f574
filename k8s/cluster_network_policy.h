// ClusterNetworkPolicy (policy.networking.k8s.io/v1beta1, sigs.k8s.io/network-policy-api v0.3.1;
// v1alpha2 has the same schema): the cluster-scoped admin and baseline policies as a typed,
// validated model, and its decoder. Validation is the CRD's (its limits, enums, one-of fields and
// CEL rules), so an object the API server accepted decodes, and the rest is INVALID_ARGUMENT
// naming the policy and the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/ip.h"
#include "common/status.h"
#include "k8s/label_selector.h"
#include "k8s/network_policy.h"
#include "k8s/objects.h"

namespace petrel::k8s {

// Admin policies are judged before NetworkPolicy, Baseline ones after it.
enum class PolicyTier { kAdmin, kBaseline };
// Accept and Deny decide; Pass skips the rest of the tier.
enum class RuleAction { kAccept, kDeny, kPass };
const char* policyTierName(PolicyTier tier);
const char* ruleActionName(RuleAction action);

// The most entries the CRD allows in each list (rules per direction, peers, protocols, networks,
// domain names), and its other limits.
inline constexpr size_t kClusterPolicyMaxItems = 25;
inline constexpr int64_t kClusterPolicyMaxPriority = 1000;
inline constexpr size_t kClusterPolicyMaxRuleName = 100;
inline constexpr size_t kClusterPolicyMaxCidrLength = 43;

// Pods chosen by their namespace's labels and their own. Written either as `namespaces` (every
// pod of the selected namespaces: pod_selector stays empty) or as `pods` (both selectors).
struct NamespacedPods {
  bool by_namespace_only = false;  // written as `namespaces`
  LabelSelector namespace_selector;
  LabelSelector pod_selector;
  bool matches(const Labels& namespace_labels, const Labels& pod_labels) const {
    return namespace_selector.matches(namespace_labels) && pod_selector.matches(pod_labels);
  }
};

// One entry of `from` or `to`: exactly one kind. kUnknown is a peer with none of the fields this
// version knows (a newer CRD's): the compiler fails closed on it (an Accept rule matches nothing,
// Deny and Pass rules deny), as the API asks.
struct ClusterNetworkPolicyPeer {
  enum class Kind { kPods, kNetworks, kNodes, kDomainNames, kUnknown };
  Kind kind = Kind::kUnknown;
  NamespacedPods pods;                     // kPods: `namespaces` or `pods`
  std::vector<Ipv4Cidr> networks;          // kNetworks: the IPv4 entries, canonical
  std::vector<std::string> ipv6_networks;  // kNetworks: IPv6 entries, validated, not enforced yet
  LabelSelector nodes;                     // kNodes (experimental channel): an empty one is all
  std::vector<std::string> domain_names;   // kDomainNames (experimental): not supported by Petrel
};

// One entry of `protocols`: a protocol with a destination port or inclusive range, or a named
// port (experimental; the protocol is then the one of the destination pod's container port).
struct ClusterNetworkPolicyPort {
  L4Protocol protocol = L4Protocol::kTcp;  // meaningless for a named port
  uint16_t first_port = 0;                 // a single port has first_port == last_port
  uint16_t last_port = 0;
  std::string named_port;  // destinationNamedPort, when set
};

struct ClusterNetworkPolicyRule {
  std::string name;  // optional, for people and flow records
  RuleAction action = RuleAction::kDeny;
  std::vector<ClusterNetworkPolicyPeer> peers;  // `from` (ingress) or `to` (egress): 1-25, ORed
  // Empty: every protocol and port (the field is absent); else 1-25 entries, ORed.
  std::vector<ClusterNetworkPolicyPort> protocols;
};

struct ClusterNetworkPolicy {
  ObjectMeta meta;  // cluster-scoped: no namespace
  PolicyTier tier = PolicyTier::kAdmin;
  int32_t priority = 0;    // 0-1000, lower first, within the tier
  NamespacedPods subject;  // the pods the policy applies to
  // Rules in precedence order (the first match decides); at most 25 each. A direction without
  // rules is not affected: there is no implicit isolation.
  std::vector<ClusterNetworkPolicyRule> ingress;
  std::vector<ClusterNetworkPolicyRule> egress;
};

Result<ClusterNetworkPolicy> decodeClusterNetworkPolicy(const nlohmann::json& obj);

}  // namespace petrel::k8s
