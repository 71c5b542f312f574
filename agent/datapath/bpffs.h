// bpffs: makes sure a BPF filesystem is mounted at /sys/fs/bpf (mounting it if not, as Cilium
// does) and that the agent's pin root exists below it.
#pragma once

#include <string>

#include "common/status.h"

namespace petrel::datapath {

inline constexpr const char* kBpffsMount = "/sys/fs/bpf";

// Mounts bpffs at /sys/fs/bpf when nothing BPF is mounted there, then creates `pin_root`.
Status ensureBpffs(const std::string& pin_root);

}  // namespace petrel::datapath
