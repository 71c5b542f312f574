// Component processes: start, wait, stop.
#include "tools/sandbox/cli/component.h"

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

using namespace std::chrono_literals;

namespace {

std::string tail(const std::string& path, size_t lines) {
  std::string text = readFile(path);
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

}  // namespace

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Status startComponent(const Layout& l, Component& c) {
  std::string file = c.name;
  std::replace(file.begin(), file.end(), '/', '-');
  c.log = l.logDir() + "/" + file + ".log";
  ProcessSpec spec;
  spec.argv = c.argv;
  spec.log_path = c.log;
  if (!c.netns.empty()) spec.netns_path = "/run/netns/" + c.netns;
  auto pid = startProcess(spec);
  if (!pid) return pid.status();
  c.pid = *pid;
  c.start_time = processStartTime(*pid);
  return Status::ok();
}

Result<Component> launch(SandboxState& state, const std::string& name, const std::string& netns,
                         std::vector<std::string> argv) {
  Component c;
  c.name = name;
  c.netns = netns;
  c.argv = std::move(argv);
  PETREL_RETURN_IF_ERROR(startComponent(state.layout, c));
  state.components.push_back(c);
  PETREL_RETURN_IF_ERROR(saveState(state));
  return c;
}

Status waitFor(const Component& c, std::chrono::seconds limit, const std::string& what,
               const std::function<bool()>& ready) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return Status::ok();
    if (!processAlive(c.pid, c.start_time)) {
      return makeError(Code::kUnavailable, "{} exited before {}; the end of {}:\n{}", c.name, what,
                       c.log, tail(c.log, 15));
    }
    std::this_thread::sleep_for(100ms);
  }
  return makeError(Code::kUnavailable, "{} did not get {} within {}s; see {}", c.name, what,
                   limit.count(), c.log);
}

bool stopComponent(const Component& c, std::chrono::milliseconds grace) {
  if (!processAlive(c.pid, c.start_time)) return false;
  kill(c.pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (processAlive(c.pid, c.start_time) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  if (processAlive(c.pid, c.start_time)) kill(c.pid, SIGKILL);
  while (processAlive(c.pid, c.start_time)) std::this_thread::sleep_for(10ms);
  return true;
}

}  // namespace petrel::sandbox
