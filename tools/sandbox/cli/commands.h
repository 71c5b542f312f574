// The petrel-sandbox subcommands.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "tools/sandbox/cli/layout.h"

namespace petrel::sandbox {

// Builds the underlay, the node namespaces, and starts the API server, the controller and each
// node's agent and kubelet; waits until every node is Ready.
Status sandboxUp(const Layout& layout);

// Removes everything the sandbox with `layout`'s state dir (or, without a state file there, its
// prefix) made, also what a crashed run left behind.
Status sandboxDown(const Layout& layout, bool quiet);

// Stops one component ("apiserver", "controller", "node-1/agent", "node-1/kubelet") and starts
// it again with the same command line.
Status sandboxRestart(const std::string& state_dir, const std::string& component);

// Prints what runs where, the nodes and pods with their network namespaces; `json` for -o json.
Status sandboxStatus(const std::string& state_dir, bool json);

// Runs `command` as node `node` ("node-1") would: joins the node's cgroup (so its agent's socket
// hooks apply), enters its network namespace, and execs. Returns only on failure.
Status sandboxExec(const std::string& state_dir, const std::string& node,
                   const std::vector<std::string>& command);

// "==> what is happening" progress lines.
void step(const std::string& message);

}  // namespace petrel::sandbox
