// CNI network loading and plugin chain execution.
#include "tools/sandbox/kubelet/cni_runner.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/json_path.h"
#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

namespace fs = std::filesystem;
using nlohmann::json;

Result<CniNetwork> loadCniNetwork(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".conflist" || ext == ".conf" || ext == ".json")) {
      files.push_back(entry.path());
    }
  }
  if (ec) return makeError(Code::kNotFound, "CNI config directory {}: {}", dir, ec.message());
  if (files.empty()) {
    return makeError(Code::kNotFound, "no CNI network config (*.conflist, *.conf) in {}", dir);
  }
  std::sort(files.begin(), files.end());
  std::ifstream in(files.front());
  std::stringstream text;
  text << in.rdbuf();
  json conf = json::parse(text.str(), nullptr, false);
  const std::string file = files.front().string();
  if (!conf.is_object()) return makeError(Code::kInvalidArgument, "{}: not a JSON object", file);
  CniNetwork net;
  net.file = file;
  net.name = stringAt(conf, {"name"});
  net.cni_version = stringAt(conf, {"cniVersion"});
  if (net.name.empty() || net.cni_version.empty()) {
    return makeError(Code::kInvalidArgument, "{}: needs \"name\" and \"cniVersion\"", file);
  }
  if (files.front().extension() == ".conflist") {
    if (!conf.contains("plugins") || !conf["plugins"].is_array() || conf["plugins"].empty()) {
      return makeError(Code::kInvalidArgument, "{}: \"plugins\" must be a non-empty list", file);
    }
    for (const auto& p : conf["plugins"]) net.plugins.push_back(p);
  } else {
    net.plugins.push_back(conf);
  }
  for (const auto& p : net.plugins) {
    // The type names a file in CNI_PATH: never empty, never a path (libcni refuses both).
    const std::string type = stringAt(p, {"type"});
    if (type.empty() || type.find('/') != std::string::npos) {
      return makeError(Code::kInvalidArgument, "{}: every plugin needs a \"type\" (a file name)",
                       file);
    }
    if (auto caps = p.find("capabilities"); caps != p.end()) {
      bool all_bool = caps->is_object();
      for (const auto& v : all_bool ? *caps : json::object()) all_bool = all_bool && v.is_boolean();
      if (!all_bool) {
        return makeError(Code::kInvalidArgument,
                         "{}: plugin {}: \"capabilities\" must map names to booleans", file, type);
      }
    }
  }
  return net;
}

Result<json> CniRunner::invoke(const std::string& command, const CniNetwork& net,
                               const json& plugin, const CniAttachment& a,
                               const json& prev_result) const {
  json conf = plugin;
  conf["name"] = net.name;
  conf["cniVersion"] = net.cni_version;
  if (!prev_result.is_null()) conf["prevResult"] = prev_result;
  if (plugin.contains("capabilities") && plugin["capabilities"].value("portMappings", false) &&
      !a.port_mappings.empty()) {
    json maps = json::array();
    for (const auto& m : a.port_mappings) {
      maps.push_back({{"hostPort", m.host_port},
                      {"containerPort", m.container_port},
                      {"protocol", m.protocol}});
    }
    conf["runtimeConfig"] = {{"portMappings", maps}};
  }
  const std::string type = plugin["type"].get<std::string>();
  std::string binary;
  std::istringstream dirs(bin_dir_);
  for (std::string dir; std::getline(dirs, dir, ':') && binary.empty();) {
    std::error_code ec;
    const std::string candidate = fmt::format("{}/{}", dir, type);
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0 &&
        fs::is_regular_file(candidate, ec)) {
      binary = candidate;
    }
  }
  if (binary.empty()) {
    return makeError(Code::kNotFound, "CNI plugin \"{}\" not found in {}", type, bin_dir_);
  }
  ProcessSpec spec;
  spec.argv = {binary};
  spec.input = conf.dump();
  spec.timeout = std::chrono::seconds(60);
  spec.mounts = node_view_;
  spec.env = {"CNI_COMMAND=" + command,
              "CNI_CONTAINERID=" + a.container_id,
              "CNI_NETNS=" + a.netns_path,
              "CNI_IFNAME=" + a.ifname,
              "CNI_PATH=" + bin_dir_,
              fmt::format("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};"
                          "K8S_POD_INFRA_CONTAINER_ID={};K8S_POD_UID={}",
                          a.pod_namespace, a.pod_name, a.container_id, a.pod_uid),
              "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  auto run = runProcess(spec);
  if (!run) return run.status();
  if (run->timed_out) return makeError(Code::kUnavailable, "CNI {} {}: timed out", type, command);
  json out = run->out.empty() ? json() : json::parse(run->out, nullptr, false);
  if (!run->ok()) {
    std::string msg = stringAt(out, {"msg"});
    std::string details = stringAt(out, {"details"});
    auto code_it = out.find("code");
    int code = code_it != out.end() && code_it->is_number_integer() ? code_it->get<int>() : 0;
    std::string stderr_text = run->err;
    while (!stderr_text.empty() && stderr_text.back() == '\n') stderr_text.pop_back();
    return makeError(Code::kUnavailable, "CNI plugin {} {} failed (exit {}, code {}): {}{}{}", type,
                     command, run->exit_code, code, msg.empty() ? stderr_text : msg,
                     details.empty() ? "" : ": ", details);
  }
  if (command != "ADD") return json();
  if (!out.is_object()) return makeError(Code::kInternal, "CNI {} ADD: result is not JSON", type);
  return out;
}

Result<json> CniRunner::add(const CniAttachment& a) const {
  auto net = loadCniNetwork(conf_dir_);
  if (!net) return net.status();
  json result;
  for (size_t i = 0; i < net->plugins.size(); ++i) {
    auto r = invoke("ADD", *net, net->plugins[i], a, result);
    if (!r) {
      for (size_t j = i; j-- > 0;) (void)invoke("DEL", *net, net->plugins[j], a, result);
      return r.status();
    }
    result = std::move(*r);
  }
  return result;
}

Status CniRunner::del(const CniAttachment& a, const json& prev_result) const {
  auto net = loadCniNetwork(conf_dir_);
  if (!net) return net.status();
  Status first = Status::ok();
  for (size_t j = net->plugins.size(); j-- > 0;) {
    auto r = invoke("DEL", *net, net->plugins[j], a, prev_result);
    if (!r && first) first = r.status();
  }
  return first;
}

std::vector<std::string> cniResultIps(const json& result) {
  std::vector<std::string> out;
  if (!result.is_object() || !result.contains("ips") || !result["ips"].is_array()) return out;
  for (const auto& ip : result["ips"]) {
    std::string addr = stringAt(ip, {"address"});
    if (addr.empty() || addr.find(':') != std::string::npos) continue;
    out.push_back(addr.substr(0, addr.find('/')));
  }
  return out;
}

}  // namespace petrel::sandbox
