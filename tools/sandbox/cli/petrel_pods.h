// The pods Petrel runs as when installed with its chart (--install helm): each agent (one per
// node) and operator replica, with the pid of its main container, so `status` can list them
// next to the sandbox's own processes and `restart node-N/agent` can restart one.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "tools/sandbox/cli/layout.h"

namespace petrel::sandbox {

struct PetrelPod {
  std::string component;  // "node-1/agent", "operator/<pod name>"
  std::string pod;        // "kube-system/petrel-agent-x7k2q"
  std::string node;
  pid_t pid = 0;    // of the running container; 0 when none runs
  std::string log;  // the container's log file, where the node's kubelet writes it
};

// The chart's agent and operator pods (labels app.kubernetes.io/name=petrel), from the API.
Result<std::vector<PetrelPod>> petrelPods(const Layout& layout);

}  // namespace petrel::sandbox
