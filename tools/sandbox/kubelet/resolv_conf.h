// The /etc/resolv.conf a pod gets for its dnsPolicy, as the kubelet writes it: ClusterFirst (not
// hostNetwork) and ClusterFirstWithHostNet use the cluster DNS ("search <ns>.svc.<domain>
// svc.<domain> <domain>", "nameserver <cluster DNS>", "options ndots:5"); Default, and
// ClusterFirst with hostNetwork, the node's; None only spec.dnsConfig. dnsConfig's nameservers,
// searches and options are merged in (an option given again replaces the earlier one).
#pragma once

#include <optional>
#include <string>

#include "tools/sandbox/kubelet/pod_spec.h"

namespace petrel::sandbox {

struct ClusterDns {
  std::string server;  // the cluster DNS Service's IP; empty: pods keep the node's resolv.conf
  std::string domain = "cluster.local";
};

// The file's text, or nullopt when the pod sees the node's resolv.conf unchanged (nothing to
// mount). `node_resolv_conf` is the node's file, the base of Default with a dnsConfig.
std::optional<std::string> podResolvConf(const PodSpec& pod, const ClusterDns& dns,
                                         const std::string& node_resolv_conf);

}  // namespace petrel::sandbox
