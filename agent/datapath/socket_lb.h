// Socket-level Service load balancing: the sock programs attached to a cgroup v2 directory's
// connect/sendmsg/recvmsg/getpeername hooks through pinned BPF links (<pin root>/links), so the
// attachment outlives the agent and a restarted agent swaps its programs in place with no gap.
#pragma once

#include <string>

#include "agent/datapath/loader.h"
#include "common/status.h"

namespace petrel::datapath {

// Where the agent mounts cgroup2 when the node has none mounted.
inline constexpr const char* kOwnCgroupMount = "/run/petrel/cgroupv2";

// The cgroup whose processes get socket LB: `flag` when given (it must be a cgroup2 directory),
// else the cgroup2 mount, mounting one at /run/petrel/cgroupv2 when there is none.
Result<std::string> resolveCgroupRoot(const std::string& flag);

// Attaches every socket LB program to `cgroup_dir`; replaces the programs of links pinned by a
// previous run, and moves them when they belong to another cgroup.
Status attachSocketLb(LoadedDatapath& dp, const std::string& cgroup_dir);

// The pin of the link of `hook` (kSocketLbHooks): <pin root>/links/sock_<hook>.
std::string socketLbLinkPath(const std::string& pin_root, const std::string& hook);

// Detaches by unpinning the links (OK when there are none).
Status detachSocketLb(const std::string& pin_root);

}  // namespace petrel::datapath
