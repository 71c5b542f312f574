// petrel-sandbox down: stop every process, remove every namespace, link, pin and file the
// sandbox made. It works from the state file when there is one and otherwise finds leftovers by
// their "psbx-" names, by the namespaces processes live in, and by the state directory in their
// command lines, so it also cleans up after a crash.
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
#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> sandboxNetns() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) == 0) out.push_back(name);
  }
  // Pods first, then nodes, the underlay last.
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    auto rank = [](const std::string& n) {
      if (n.rfind(kPodNetnsPrefix, 0) == 0) return 0;
      return n == kUnderlayNetns ? 2 : 1;
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

// Every process inside a sandbox namespace or started with the state directory on its command
// line (the API server and controller live in the root namespace).
std::vector<pid_t> sandboxProcesses(const std::vector<std::string>& netns,
                                    const std::string& state_dir) {
  std::set<uint64_t> inodes;
  for (const auto& n : netns) {
    if (uint64_t ino = netnsInode("/run/netns/" + n)) inodes.insert(ino);
  }
  std::vector<pid_t> out;
  const pid_t self = getpid();
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
  return out;
}

}  // namespace

Status sandboxDown(const std::string& state_dir, bool quiet) {
  auto say = [&](const std::string& m) {
    if (!quiet) step(m);
  };
  if (auto state = loadState(state_dir); state) {
    // Kubelets first so they do not restart pods while the rest goes away.
    for (auto it = state->components.rbegin(); it != state->components.rend(); ++it) {
      if (processAlive(it->pid, it->start_time)) {
        say(fmt::format("Stopping {} (pid {})", it->name, it->pid));
        kill(it->pid, SIGTERM);
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    for (const auto& c : state->components) {
      while (processAlive(c.pid, c.start_time) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
      }
      if (processAlive(c.pid, c.start_time)) kill(c.pid, SIGKILL);
    }
  }
  auto netns = sandboxNetns();
  auto leftovers = sandboxProcesses(netns, state_dir);
  for (pid_t pid : leftovers) kill(pid, SIGKILL);
  if (!leftovers.empty())
    say(fmt::format("Killed {} pod and leftover processes", leftovers.size()));
  for (int i = 0; i < 50 && !sandboxProcesses(netns, state_dir).empty(); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  Status first = Status::ok();
  for (const auto& n : netns) {
    if (Status s = runChecked({"ip", "netns", "del", n}); !s && first) first = s;
  }
  if (!netns.empty()) say(fmt::format("Removed {} network namespaces", netns.size()));
  if (fs::exists(std::string("/sys/class/net/") + kHostLink)) {
    if (Status s = runChecked({"ip", "link", "del", kHostLink}); !s && first) first = s;
  }
  std::error_code ec;
  if (fs::exists(kBpfRoot)) {
    fs::remove_all(kBpfRoot, ec);
    if (ec && first)
      first = makeError(Code::kInternal, "cannot remove {}: {}", kBpfRoot, ec.message());
    say(fmt::format("Removed BPF pins under {}", kBpfRoot));
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
