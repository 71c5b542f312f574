// HostPathMap: the parts of a sandbox node's host filesystem that are its own. All nodes share
// this machine, so each one's /etc/cni/net.d, /opt/cni/bin, /var/run/petrel, /sys/fs/bpf and
// cgroup are directories of their own here (--host-path-map NODE_PATH=HOST_PATH). Pods' hostPath
// volumes resolve through it, and CNI plugins run with it bind-mounted, so both see the node as
// a real node would look.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

class HostPathMap {
 public:
  // Each spec "NODE_PATH=HOST_PATH", both absolute. Errors name the bad spec.
  static Result<HostPathMap> parse(const std::vector<std::string>& specs);

  // Where `node_path` is on this machine: the entry with the longest NODE_PATH that equals it or
  // is a directory above it, else `node_path` itself.
  std::string resolve(const std::string& node_path) const;
  // Every HOST_PATH at its NODE_PATH: the node's view for a process's own mount namespace.
  std::vector<BindMount> binds() const;
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;  // {node path, host path}
};

}  // namespace petrel::sandbox
