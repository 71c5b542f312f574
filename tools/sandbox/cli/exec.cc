// petrel-sandbox exec: a command as a node. It joins the node's cgroup (writing its own pid to
// cgroup.procs), enters the node's network namespace, then execs the command, which so inherits
// both; traffic it starts is node traffic the node's agent sees (socket-level Service LB).
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/unique_fd.h"
#include "tools/sandbox/cli/commands.h"
#include "tools/sandbox/common/cgroup.h"

namespace petrel::sandbox {

Status sandboxExec(const std::string& state_dir, const std::string& node,
                   const std::vector<std::string>& command) {
  if (command.empty()) {
    return makeError(Code::kInvalidArgument, "no command: petrel-sandbox exec {} -- <command>",
                     node);
  }
  auto state = loadState(state_dir);
  if (!state) return state.status();
  const Layout& l = state->layout;
  int index = 0;
  for (int i = 1; i <= l.nodes; ++i) {
    if (l.nodeName(i) == node) index = i;
  }
  if (index == 0) {
    return makeError(Code::kNotFound, "no node {} in this sandbox (it has node-1..node-{})", node,
                     l.nodes);
  }
  if (l.cgroup2_mount.empty()) {
    return makeError(Code::kFailedPrecondition,
                     "this sandbox was started without node cgroups: run `petrel-sandbox down` "
                     "and `up` again");
  }
  const std::string netns = "/run/netns/" + l.nodeNetns(index);
  UniqueFd ns(open(netns.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return errnoStatus(errno, fmt::format("open {}", netns));
  PETREL_RETURN_IF_ERROR(joinCgroup(l.nodeCgroup(index), getpid()));
  if (setns(ns.get(), CLONE_NEWNET) != 0) {
    return errnoStatus(errno, fmt::format("enter network namespace {}", netns));
  }
  std::vector<char*> argv;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  return errnoStatus(errno, fmt::format("exec {}", command.front()));
}

}  // namespace petrel::sandbox
