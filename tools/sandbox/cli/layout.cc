// sandbox.json reading and writing.
#include "tools/sandbox/cli/layout.h"

#include <algorithm>
#include <cctype>
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
                          {"log", c.log},
                          {"argv", c.argv}});
  }
  return {{"stateDir", s.layout.state_dir},
          {"nodes", s.layout.nodes},
          {"apiPort", s.layout.api_port},
          {"prefix", s.layout.prefix},
          {"underlayNet", s.layout.underlay_net},
          {"podNet", s.layout.pod_net},
          {"routingMode", s.layout.routing_mode},
          {"vxlanMode", s.layout.vxlan_mode},
          {"lbAcceleration", s.layout.lb_acceleration},
          {"install", s.layout.install},
          {"chart", s.layout.chart_dir},
          {"cgroup2Mount", s.layout.cgroup2_mount},
          {"apiServer", s.api_url},
          {"kubeconfig", s.layout.kubeconfig()},
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
  s.layout.prefix = j.value("prefix", s.layout.prefix);
  s.layout.underlay_net = j.value("underlayNet", s.layout.underlay_net);
  s.layout.pod_net = j.value("podNet", s.layout.pod_net);
  s.layout.routing_mode = j.value("routingMode", s.layout.routing_mode);
  s.layout.vxlan_mode = j.value("vxlanMode", s.layout.vxlan_mode);
  s.layout.lb_acceleration = j.value("lbAcceleration", s.layout.lb_acceleration);
  s.layout.install = j.value("install", s.layout.install);
  s.layout.chart_dir = j.value("chart", "");
  s.layout.cgroup2_mount = j.value("cgroup2Mount", "");
  s.api_url = j.value("apiServer", "");
  for (const auto& c : j.value("components", json::array())) {
    s.components.push_back(Component{c.value("name", ""), c.value("netns", ""), c.value("pid", 0),
                                     c.value("startTime", uint64_t{0}), c.value("log", ""),
                                     c.value("argv", std::vector<std::string>{})});
  }
  return s;
}

Status validateLayout(const Layout& l) {
  auto is_name = [](const std::string& p) {
    return !p.empty() && p.size() <= 12 &&
           std::all_of(p.begin(), p.end(), [](char c) { return std::isalnum(c) || c == '-'; });
  };
  if (!is_name(l.prefix)) {
    return makeError(Code::kInvalidArgument,
                     "--prefix \"{}\": use 1-12 letters, digits or '-' (it names links)", l.prefix);
  }
  auto octets = [](const std::string& net, int count) {
    std::istringstream in(net);
    std::string part;
    int n = 0;
    while (std::getline(in, part, '.')) {
      if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), ::isdigit) ||
          std::stoi(part) > 255) {
        return false;
      }
      ++n;
    }
    return n == count;
  };
  if (!octets(l.underlay_net, 3)) {
    return makeError(
        Code::kInvalidArgument,
        "--underlay-net \"{}\": give the first three octets of a /24, e.g. 192.168.200",
        l.underlay_net);
  }
  if (!octets(l.pod_net, 2)) {
    return makeError(Code::kInvalidArgument,
                     "--pod-net \"{}\": give the first two octets of a /16, e.g. 10.244",
                     l.pod_net);
  }
  return Status::ok();
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
