// cgroup v2 helpers for the sandbox: finding (or mounting) the cgroup2 hierarchy, making and
// removing a node's cgroup, moving a process into one, and reading which cgroup a process is in.
// Every sandbox node gets its own cgroup so its agent's socket hooks see only that node's pods.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace petrel::sandbox {

// The mount point of the first cgroup2 file system in a /proc/self/mounts text ("" when none):
// /sys/fs/cgroup on a pure-v2 machine, /sys/fs/cgroup/unified in hybrid mode. Octal escapes in
// the path (\040 for a space) are decoded.
std::string cgroup2MountFromMounts(const std::string& mounts);

// The path of the "0::" line of a /proc/<pid>/cgroup text, relative to the cgroup2 root
// ("/petrel-psbx/node-1"); "" when there is none.
std::string cgroup2PathFromProcCgroup(const std::string& proc_cgroup);

// The cgroup2 mount of this machine. When none is mounted, mounts one at `fallback_dir` (and
// leaves it mounted, like bpffs); `mounted` tells the caller it did.
Result<std::string> findOrMountCgroup2(const std::string& fallback_dir, bool* mounted);

// mkdir -p of a cgroup directory (each level is a cgroup).
Status createCgroup(const std::string& dir);

// Moves `pid` (0: the caller) into the cgroup at `dir` by writing to its cgroup.procs.
Status joinCgroup(const std::string& dir, pid_t pid);

// The pids in <dir>/cgroup.procs and in every cgroup below it.
std::vector<pid_t> cgroupPids(const std::string& dir);

// Removes `dir` and the cgroups below it, deepest first, retrying while they still hold
// processes that are exiting (EBUSY) for up to ~2 s. Absent is success.
Status removeCgroupTree(const std::string& dir);

}  // namespace petrel::sandbox
