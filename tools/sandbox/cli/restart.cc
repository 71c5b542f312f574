// petrel-sandbox restart <component>: stop one process of the sandbox and start it again with
// the same command line, for failure drills (an agent or API server restart) and after a rebuild.
#include <fmt/format.h>

#include "tools/sandbox/cli/commands.h"
#include "tools/sandbox/cli/component.h"

namespace petrel::sandbox {

using namespace std::chrono_literals;

Status sandboxRestart(const std::string& state_dir, const std::string& name) {
  auto state = loadState(state_dir);
  if (!state) {
    return makeError(Code::kNotFound, "no sandbox is up (no {}/sandbox.json)", state_dir);
  }
  std::string names;
  for (auto& c : state->components) {
    names += (names.empty() ? "" : ", ") + c.name;
    if (c.name != name) continue;
    if (c.argv.empty())
      return makeError(Code::kFailedPrecondition, "{}: no command line recorded", name);
    if (stopComponent(c, 5s)) step(fmt::format("Stopped {} (pid {})", c.name, c.pid));
    PETREL_RETURN_IF_ERROR(startComponent(state->layout, c));
    PETREL_RETURN_IF_ERROR(saveState(*state));
    step(fmt::format("Started {} (pid {}), log {}", c.name, c.pid, c.log));
    return Status::ok();
  }
  return makeError(Code::kNotFound, "no component \"{}\"; the sandbox has: {}", name, names);
}

}  // namespace petrel::sandbox
