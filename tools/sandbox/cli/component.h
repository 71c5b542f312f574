// Starting, waiting for and stopping the sandbox's long-running processes (the control plane,
// agents, kubelets), each with its log file under the state directory.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/sandbox/cli/layout.h"

namespace petrel::sandbox {

// Starts c.argv inside c.netns (empty: this namespace), output appended to
// <logs>/<name with '/' as '-'>.log; fills c.pid, c.start_time and c.log.
Status startComponent(const Layout& layout, Component& c);

// Starts `argv` as component `name` in `netns` ("" = this machine's namespace), adds it to
// `state` and saves the state file, so `status`, `restart` and `down` find it.
Result<Component> launch(SandboxState& state, const std::string& name, const std::string& netns,
                         std::vector<std::string> argv);

// Polls `ready` until it holds; fails early, with the end of the log, when c exits.
Status waitFor(const Component& c, std::chrono::seconds limit, const std::string& what,
               const std::function<bool()>& ready);

// SIGTERM, then SIGKILL after `grace`. True when it was running.
bool stopComponent(const Component& c, std::chrono::milliseconds grace);

std::string readFile(const std::string& path);

}  // namespace petrel::sandbox
