// A pod's security labels: what its identity is made of. Its own labels (minus those that differ
// between the replicas of one workload), its namespace's labels, its namespace and its service
// account. Pods with the same security labels share one identity, so a policy's selectors can be
// evaluated once per identity instead of once per pod.
#pragma once

#include <map>
#include <set>
#include <string>

namespace petrel::core {

// Key -> value, each key under the prefix of its source, sorted: the identity's labels as
// PetrelIdentity and `petrel identity list` show them. The sources' prefixes differ before any
// user-written text, so no pod label can pass for a namespace label or the namespace.
using SecurityLabels = std::map<std::string, std::string>;

inline constexpr const char* kPodLabelPrefix = "k8s:";
inline constexpr const char* kNamespaceLabelPrefix = "k8s-namespace:";
inline constexpr const char* kNamespaceKey = "petrel:namespace";
inline constexpr const char* kServiceAccountKey = "petrel:serviceaccount";

// Pod labels that a controller sets per replica or per revision: left out, so that the replicas
// of a Deployment, StatefulSet, DaemonSet or Job share one identity. A policy that selects on one
// of them selects nothing (as in Cilium).
const std::set<std::string>& volatilePodLabels();

SecurityLabels securityLabels(const std::map<std::string, std::string>& pod_labels,
                              const std::string& pod_namespace,
                              const std::map<std::string, std::string>& namespace_labels,
                              const std::string& service_account);

// The parts a NetworkPolicy selects on, back out of security labels.
std::map<std::string, std::string> podLabelsOf(const SecurityLabels& labels);
std::map<std::string, std::string> namespaceLabelsOf(const SecurityLabels& labels);
std::string namespaceOf(const SecurityLabels& labels);

// One line that is equal for equal label sets: "k=v,k=v" in key order.
std::string canonicalKey(const SecurityLabels& labels);

}  // namespace petrel::core
