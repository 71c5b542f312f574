// petrel-sandbox restart <component>: stop one process of the sandbox and start it again with
// the same command line, for failure drills (an agent or API server restart) and after a rebuild.
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "tools/sandbox/cli/commands.h"
#include "tools/sandbox/cli/component.h"
#include "tools/sandbox/cli/petrel_pods.h"
#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

using namespace std::chrono_literals;

namespace {

// An agent installed by the chart is a pod: stop its container and let the kubelet start it
// again (restartPolicy Always), as a crash would; done when a new one has opened the socket.
Status restartAgentPod(const Layout& l, const std::string& name) {
  auto find = [&]() -> Result<PetrelPod> {
    auto pods = petrelPods(l);
    if (!pods) return pods.status();
    for (const auto& p : *pods) {
      if (p.component == name) return p;
    }
    return makeError(Code::kNotFound, "no agent pod for {} (kubectl -n kube-system get pods)",
                     name);
  };
  auto before = find();
  if (!before) return before.status();
  const std::string node = name.substr(0, name.find('/'));
  int index = 0;
  for (int i = 1; i <= l.nodes; ++i) {
    if (l.nodeName(i) == node) index = i;
  }
  if (index == 0) return makeError(Code::kNotFound, "no node {} in this sandbox", node);
  if (before->pid != 0) {
    Component c{name, "", before->pid, processStartTime(before->pid), "", {}};
    if (stopComponent(c, 5s)) step(fmt::format("Stopped {} (pid {})", name, before->pid));
  }
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto now = find();
    if (now && now->pid != 0 && now->pid != before->pid &&
        std::filesystem::exists(l.agentSocket(index))) {
      step(fmt::format("The kubelet started {} again (pod {}, pid {})", name, now->pod, now->pid));
      return Status::ok();
    }
    std::this_thread::sleep_for(200ms);
  }
  return makeError(Code::kUnavailable, "{} did not come back within 60 s: see {}/{}-kubelet.log",
                   name, l.logDir(), node);
}

}  // namespace

Status sandboxRestart(const std::string& state_dir, const std::string& name) {
  auto state = loadState(state_dir);
  if (!state) {
    return makeError(Code::kNotFound, "no sandbox is up (no {}/sandbox.json)", state_dir);
  }
  if (state->layout.install == "helm" && name.size() > 6 &&
      name.compare(name.size() - 6, 6, "/agent") == 0) {
    return restartAgentPod(state->layout, name);
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
