// A container's environment as the kubelet gives it: the kubernetes Service's variables, its env
// entries with valueFrom resolved (fieldRef, configMapKeyRef, secretKeyRef) and $(VAR) references
// expanded, in Kubernetes' order and precedence; and the downward API's field values.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "tools/sandbox/kubelet/object_source.h"
#include "tools/sandbox/kubelet/pod_spec.h"

namespace petrel::sandbox {

using EnvList = std::vector<std::pair<std::string, std::string>>;

// What the pod's fields do not say: its addresses once its network is up.
struct PodAddresses {
  std::vector<std::string> pod_ips;
  std::string host_ip;
};

// The value of a fieldRef: metadata.name, .namespace, .uid, .labels['k'], .annotations['k'],
// spec.nodeName, spec.serviceAccountName, status.podIP, .podIPs, .hostIP, .hostIPs. The whole
// metadata.labels / metadata.annotations is `key="value"` lines, sorted (downward API files).
// INVALID_ARGUMENT for another path.
Result<std::string> fieldRefValue(const PodSpec& pod, std::string_view path,
                                  const PodAddresses& addresses);

// KUBERNETES_SERVICE_HOST, _PORT, _PORT_HTTPS, KUBERNETES_PORT and KUBERNETES_PORT_443_TCP* for
// the kubernetes Service at `ip`:`port`, as the kubelet sets them.
EnvList kubernetesServiceEnv(const std::string& ip, int port);

// The container's env entries resolved in order, literal values expanded against the entries
// before them and then `service_env`; followed by the service variables it does not define.
// Errors name the container and the entry; an optional reference that is missing is skipped.
Result<EnvList> containerEnv(const PodSpec& pod, const ContainerSpec& container,
                             const PodAddresses& addresses, const EnvList& service_env,
                             ObjectSource& objects);

// command and args with $(VAR) expanded against `env` (the container's final environment).
std::vector<std::string> expandArgv(const std::vector<std::string>& argv, const EnvList& env);

}  // namespace petrel::sandbox
