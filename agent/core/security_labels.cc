// A pod's security labels from its labels, namespace and service account.
#include "agent/core/security_labels.h"

#include <string_view>

namespace petrel::core {

namespace {

// The labels under `prefix`, without it.
std::map<std::string, std::string> stripped(const SecurityLabels& labels, std::string_view prefix) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : labels) {
    if (std::string_view(key).substr(0, prefix.size()) == prefix) {
      out[key.substr(prefix.size())] = value;
    }
  }
  return out;
}

}  // namespace

const std::set<std::string>& volatilePodLabels() {
  static const std::set<std::string> labels = {
      "pod-template-hash",                         // Deployment's ReplicaSet
      "controller-revision-hash",                  // StatefulSet, DaemonSet revisions
      "pod-template-generation",                   // DaemonSet
      "statefulset.kubernetes.io/pod-name",        // one per replica
      "apps.kubernetes.io/pod-index",              // StatefulSet ordinal
      "batch.kubernetes.io/controller-uid",        // Job run
      "controller-uid",                            // Job run (older label)
      "batch.kubernetes.io/job-completion-index",  // indexed Job
  };
  return labels;
}

SecurityLabels securityLabels(const std::map<std::string, std::string>& pod_labels,
                              const std::string& pod_namespace,
                              const std::map<std::string, std::string>& namespace_labels,
                              const std::string& service_account) {
  SecurityLabels out;
  for (const auto& [key, value] : pod_labels) {
    if (!volatilePodLabels().count(key)) out[kPodLabelPrefix + key] = value;
  }
  for (const auto& [key, value] : namespace_labels) out[kNamespaceLabelPrefix + key] = value;
  out[kNamespaceKey] = pod_namespace;
  out[kServiceAccountKey] = service_account.empty() ? "default" : service_account;
  return out;
}

std::map<std::string, std::string> podLabelsOf(const SecurityLabels& labels) {
  return stripped(labels, kPodLabelPrefix);
}

std::map<std::string, std::string> namespaceLabelsOf(const SecurityLabels& labels) {
  return stripped(labels, kNamespaceLabelPrefix);
}

std::string namespaceOf(const SecurityLabels& labels) {
  auto it = labels.find(kNamespaceKey);
  return it == labels.end() ? "" : it->second;
}

std::string canonicalKey(const SecurityLabels& labels) {
  std::string out;
  for (const auto& [key, value] : labels) {
    if (!out.empty()) out += ',';
    out += key + '=' + value;
  }
  return out;
}

}  // namespace petrel::core
