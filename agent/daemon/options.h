// The agent's settings, as its flags give them (agent/main/main.cc documents each flag).
#pragma once

#include <cstdint>
#include <string>

#include "agent/core/maglev.h"
#include "agent/datapath/overlay.h"

namespace petrel::agent {

struct Options {
  std::string node_name;
  std::string pod_cidr;  // "": from the API
  std::string bpf_root = "/sys/fs/bpf/petrel";
  std::string state_dir = "/var/run/petrel";
  std::string socket = "/var/run/petrel/petrel.sock";
  uint32_t mtu = 0;  // 0: the underlay's, minus the overlay header when tunnelling
  std::string routing_mode = "tunnel";
  std::string vxlan_mode = "collect-md";
  uint16_t tunnel_port = datapath::kDefaultVxlanPort;
  std::string cgroup_root;  // "": the cgroup2 mount (mounted at /run/petrel/cgroupv2 if none)
  bool masquerade = true;
  std::string masquerade_ports = "61000-65535";
  uint32_t maglev_table_size = core::kDefaultMaglevTableSize;
  std::string lb_acceleration = "best-effort";
  uint32_t full_pass_seconds = 30;
  std::string log_level = "info";
  std::string kubeconfig;
  bool in_cluster = false;  // KUBERNETES_SERVICE_HOST is set
  // Uninstall detection at shutdown (uninstall_check.h): the pod's name and namespace (env
  // POD_NAME, POD_NAMESPACE), and where the chart mounts the host's CNI directories.
  bool cleanup_on_uninstall = true;
  std::string pod_name;
  std::string pod_namespace;
  std::string cni_conf_dir = "/host/etc/cni/net.d";
  std::string cni_bin_dir = "/host/opt/cni/bin";
  std::string cni_conf_name = "10-petrel.conflist";

  bool useApi() const { return !kubeconfig.empty() || in_cluster; }
  bool tunnel() const { return routing_mode == "tunnel"; }
};

}  // namespace petrel::agent
