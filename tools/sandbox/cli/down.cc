// petrel-sandbox down: stop every process, remove every namespace, link, pin and file the
// sandbox made. It works from the state file when there is one and otherwise finds leftovers by
// their prefixed names (namespaces, links, pins, the node cgroups), by the namespaces and cgroups
// processes live in, and by the state directory in their command lines, so it also cleans up
// after a crash.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "tools/sandbox/cli/commands.h"
#include "tools/sandbox/cli/component.h"
#include "tools/sandbox/common/cgroup.h"
#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> sandboxNetns(const Layout& l) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(l.prefix + "-", 0) == 0) out.push_back(name);
  }
  // Pods first, then nodes, the underlay last.
  std::sort(out.begin(), out.end(), [&](const std::string& a, const std::string& b) {
    auto rank = [&](const std::string& n) {
      if (n.rfind(l.podNetnsPrefix(), 0) == 0) return 0;
      return n == l.underlayNetns() ? 2 : 1;
    };
    return std::make_pair(rank(a), a) < std::make_pair(rank(b), b);
  });
  return out;
}

std::string cmdline(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/cmdline", pid));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

// Every process inside a sandbox namespace or cgroup, or started with the state directory on its
// command line (the API server and controller live in the root namespace).
std::vector<pid_t> sandboxProcesses(const std::vector<std::string>& netns,
                                    const std::string& state_dir, const std::string& cgroup_root) {
  std::set<uint64_t> inodes;
  for (const auto& n : netns) {
    if (uint64_t ino = netnsInode("/run/netns/" + n)) inodes.insert(ino);
  }
  std::vector<pid_t> out;
  const pid_t self = getpid();
  for (pid_t pid : cgroupPids(cgroup_root)) {
    if (pid != self) out.push_back(pid);
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const pid_t pid = std::stoi(name);
    if (pid == self) continue;
    if (inodes.count(netnsInode(fmt::format("/proc/{}/ns/net", pid))) ||
        cmdline(pid).find(state_dir + "/") != std::string::npos) {
      out.push_back(pid);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

Status sandboxDown(const Layout& given, bool quiet) {
  auto say = [&](const std::string& m) {
    if (!quiet) step(m);
  };
  auto state = loadState(given.state_dir);
  // The state file knows the prefix `up` used; without one (a crash before it was written, or
  // it was removed) the caller's layout says what to look for.
  Layout l = state ? state->layout : given;
  // Without a state file (or from before node cgroups) the cgroups are found under this
  // machine's cgroup2 mount by their prefixed name.
  if (l.cgroup2_mount.empty()) {
    l.cgroup2_mount = cgroup2MountFromMounts(readFile("/proc/self/mounts"));
  }
  const std::string cgroup_root = l.cgroup2_mount.empty() ? std::string() : l.cgroupRoot();
  const std::string& state_dir = l.state_dir;
  if (state) {
    // Kubelets first so they do not restart pods while the rest goes away.
    for (auto it = state->components.rbegin(); it != state->components.rend(); ++it) {
      if (stopComponent(*it, 3s)) say(fmt::format("Stopped {} (pid {})", it->name, it->pid));
    }
  }
  auto netns = sandboxNetns(l);
  auto leftovers = sandboxProcesses(netns, state_dir, cgroup_root);
  for (pid_t pid : leftovers) kill(pid, SIGKILL);
  if (!leftovers.empty())
    say(fmt::format("Killed {} pod and leftover processes", leftovers.size()));
  for (int i = 0; i < 50 && !sandboxProcesses(netns, state_dir, cgroup_root).empty(); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  Status first = Status::ok();
  if (!cgroup_root.empty() && fs::exists(cgroup_root)) {
    if (Status s = removeCgroupTree(cgroup_root); !s) {
      if (first) first = s;
    } else {
      say(fmt::format("Removed the node cgroups under {}", cgroup_root));
    }
  }
  for (const auto& n : netns) {
    if (Status s = runChecked({"ip", "netns", "del", n}); !s && first) first = s;
  }
  if (!netns.empty()) say(fmt::format("Removed {} network namespaces", netns.size()));
  // Deleting the underlay namespace takes this link's veth peer and with it this end, but the
  // kernel does that asynchronously: gone by the time `ip link del` runs counts as removed.
  const std::string host_link = std::string("/sys/class/net/") + l.hostLink();
  if (fs::exists(host_link)) {
    Status s = runChecked({"ip", "link", "del", l.hostLink()});
    if (!s && fs::exists(host_link) && first) first = s;
  }
  std::error_code ec;
  if (fs::exists(l.bpfRoot())) {
    fs::remove_all(l.bpfRoot(), ec);
    if (ec && first)
      first = makeError(Code::kInternal, "cannot remove {}: {}", l.bpfRoot(), ec.message());
    say(fmt::format("Removed BPF pins under {}", l.bpfRoot()));
  }
  if (fs::exists(state_dir)) {
    fs::remove_all(state_dir, ec);
    if (ec && first)
      first = makeError(Code::kInternal, "cannot remove {}: {}", state_dir, ec.message());
  }
  if (!quiet) {
    std::cout << (first ? "The sandbox is down: nothing of it is left.\n"
                        : "The sandbox is down, but something could not be removed (below).\n");
  }
  return first;
}

}  // namespace petrel::sandbox
