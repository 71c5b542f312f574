// sandbox.json reading and writing.
#include "tools/sandbox/cli/layout.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace petrel::sandbox {

using nlohmann::json;

json toJson(const SandboxState& s) {
  json components = json::array();
  for (const auto& c : s.components) {
    components.push_back({{"name", c.name},
                          {"netns", c.netns},
                          {"pid", c.pid},
                          {"startTime", c.start_time},
                          {"log", c.log}});
  }
  return {{"stateDir", s.layout.state_dir}, {"nodes", s.layout.nodes},
          {"apiPort", s.layout.api_port},   {"underlayPrefix", s.layout.underlay_prefix},
          {"apiServer", s.api_url},         {"kubeconfig", s.layout.kubeconfig()},
          {"components", components}};
}

Result<SandboxState> loadState(const std::string& state_dir) {
  const std::string path = state_dir + "/sandbox.json";
  std::ifstream in(path);
  if (!in) return makeError(Code::kNotFound, "no sandbox state at {}", path);
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, false);
  if (!j.is_object()) return makeError(Code::kInvalidArgument, "{}: not valid JSON", path);
  SandboxState s;
  s.layout.state_dir = j.value("stateDir", state_dir);
  s.layout.nodes = j.value("nodes", 0);
  s.layout.api_port = j.value("apiPort", uint16_t{6443});
  s.layout.underlay_prefix = j.value("underlayPrefix", s.layout.underlay_prefix);
  s.api_url = j.value("apiServer", "");
  for (const auto& c : j.value("components", json::array())) {
    s.components.push_back(Component{c.value("name", ""), c.value("netns", ""), c.value("pid", 0),
                                     c.value("startTime", uint64_t{0}), c.value("log", "")});
  }
  return s;
}

Status saveState(const SandboxState& s) {
  const std::string path = s.layout.stateFile();
  {
    std::ofstream out(path + ".tmp");
    out << toJson(s).dump(2) << "\n";
    if (!out) return makeError(Code::kInternal, "cannot write {}", path);
  }
  std::error_code ec;
  std::filesystem::rename(path + ".tmp", path, ec);
  if (ec) return makeError(Code::kInternal, "cannot write {}: {}", path, ec.message());
  return Status::ok();
}

}  // namespace petrel::sandbox
