// Removing everything a Petrel agent made on its node: what `petrel-agent cleanup` runs, and what
// the agent runs at shutdown when it is being uninstalled (uninstall_check.h).
#pragma once

#include <string>

#include "agent/daemon/options.h"
#include "agent/datapath/datapath_cleanup.h"

namespace petrel::agent {

// The CNI plugin's binary name (the conflist's plugin "type").
inline constexpr const char* kCniBinaryName = "petrel-cni";

struct CleanupOptions {
  std::string bpf_root;
  std::string state_dir;
  std::string socket;
  std::string cni_conf_dir;  // "": the CNI config stays
  std::string cni_bin_dir;   // "": the CNI binary stays
  std::string cni_conf_name = "10-petrel.conflist";
};

// The agent's own settings as cleanup options (the CNI paths as the chart mounts them).
CleanupOptions cleanupOptionsFor(const Options& opt);

// In order: the CNI config (so the kubelet starts no new pod on Petrel), the programs on every
// link of this network namespace, the routes the tunnel map records, the devices, the pins, the
// cgroup2 mount of the agent's own, the state files, the CNI binary. Goes on after a failure;
// each removal and failure is in `report`. Pods' own namespaces and their veths are left to their
// runtime: only Petrel's programs on the veths are detached.
void cleanupNode(const CleanupOptions& options, datapath::CleanupReport& report);

}  // namespace petrel::agent
