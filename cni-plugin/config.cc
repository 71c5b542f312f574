// Network config, CNI_* environment and CNI_ARGS parsing; version negotiation; host veth names.
#include "cni-plugin/config.h"

#include <charconv>

#include <fmt/format.h>

namespace petrel::cni {
namespace {

using nlohmann::json;

CniError configError(std::string msg) {
  return CniError{kErrInvalidConfig, std::move(msg), ""};
}

// Reads a required non-empty string field.
std::optional<CniError> requireString(const json& conf, const char* key, std::string* out) {
  auto it = conf.find(key);
  if (it == conf.end()) {
    return configError(fmt::format("network config has no \"{}\"; add it (see the CNI spec)", key));
  }
  if (!it->is_string() || it->get<std::string>().empty()) {
    return configError(fmt::format("network config field \"{}\" must be a non-empty string", key));
  }
  *out = it->get<std::string>();
  return std::nullopt;
}

uint64_t fnv1a64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string hashSuffix(const std::string& container_id, const std::string& ifname) {
  uint64_t h = fnv1a64(container_id + "/" + ifname);
  return fmt::format("{:012x}", h & 0xffffffffffffULL);
}

}  // namespace

bool isSupportedVersion(std::string_view version) {
  for (const char* v : kSupportedVersions) {
    if (version == v) return true;
  }
  return false;
}

std::optional<std::array<int, 3>> parseVersion(std::string_view version) {
  std::array<int, 3> out{};
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    size_t end = version.find('.', pos);
    if (i < 2 && end == std::string_view::npos) return std::nullopt;
    if (i == 2) end = version.size();
    std::string_view part = version.substr(pos, end - pos);
    if (part.empty()) return std::nullopt;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), out[i]);
    if (ec != std::errc() || ptr != part.data() + part.size()) return std::nullopt;
    pos = end + 1;
  }
  return out;
}

bool versionAtLeast(std::string_view version, std::string_view minimum) {
  auto v = parseVersion(version);
  auto m = parseVersion(minimum);
  return v && m && *v >= *m;
}

CniResult<NetConf> parseNetConf(std::string_view text) {
  json conf = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (conf.is_discarded()) {
    return configError("network config on stdin is not valid JSON; check the .conflist file");
  }
  if (!conf.is_object()) return configError("network config must be a JSON object");
  NetConf nc;
  if (auto e = requireString(conf, "cniVersion", &nc.cni_version)) return *e;
  if (!isSupportedVersion(nc.cni_version)) {
    return CniError{kErrIncompatibleVersion,
                    fmt::format("cniVersion \"{}\" is not supported; use one of 0.3.0, 0.3.1, "
                                "0.4.0, 1.0.0, 1.1.0",
                                nc.cni_version),
                    ""};
  }
  if (auto e = requireString(conf, "name", &nc.name)) return *e;
  if (auto e = requireString(conf, "type", &nc.type)) return *e;
  if (conf.contains("agentSocket")) {
    if (auto e = requireString(conf, "agentSocket", &nc.agent_socket)) return *e;
  }
  if (auto it = conf.find("mtu"); it != conf.end()) {
    if (!it->is_number_integer()) {
      return configError("network config field \"mtu\" must be an integer");
    }
    auto mtu = it->get<int64_t>();
    if (mtu < kMinMtu || mtu > kMaxMtu) {
      return configError(fmt::format("network config \"mtu\" {} is out of range; use {}..{}", mtu,
                                     kMinMtu, kMaxMtu));
    }
    nc.mtu = static_cast<uint32_t>(mtu);
  }
  if (auto it = conf.find("logFile"); it != conf.end()) {
    if (!it->is_string()) return configError("network config field \"logFile\" must be a string");
    nc.log_file = it->get<std::string>();
  }
  if (auto it = conf.find("prevResult"); it != conf.end() && !it->is_null()) {
    if (!it->is_object()) return configError("network config \"prevResult\" must be an object");
    nc.prev_result = *it;
  }
  if (auto it = conf.find("cni.dev/valid-attachments"); it != conf.end()) {
    if (!it->is_array()) {
      return configError("\"cni.dev/valid-attachments\" must be an array of objects");
    }
    for (const json& a : *it) {
      auto cid = a.is_object() ? a.find("containerID") : a.end();
      auto ifn = a.is_object() ? a.find("ifname") : a.end();
      if (!a.is_object() || cid == a.end() || ifn == a.end() || !cid->is_string() ||
          !ifn->is_string()) {
        return configError(
            "each \"cni.dev/valid-attachments\" entry needs string \"containerID\" and \"ifname\"");
      }
      nc.valid_attachments.push_back({cid->get<std::string>(), ifn->get<std::string>()});
    }
  }
  return nc;
}

CniResult<CniArgs> parseCniArgs(std::string_view text) {
  CniArgs args;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(';', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view pair = text.substr(pos, end - pos);
    pos = end + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return CniError{kErrInvalidEnv,
                      fmt::format("CNI_ARGS entry \"{}\" is not KEY=VALUE; fix the runtime's "
                                  "CNI_ARGS",
                                  pair),
                      ""};
    }
    std::string key(pair.substr(0, eq));
    std::string value(pair.substr(eq + 1));
    if (key == "K8S_POD_NAMESPACE") {
      args.pod_namespace = value;
    } else if (key == "K8S_POD_NAME") {
      args.pod_name = value;
    } else if (key == "K8S_POD_UID") {
      args.pod_uid = value;
    } else {
      args.other[key] = value;
    }
  }
  return args;
}

CniResult<CniEnv> readCniEnv(GetEnv getenv_fn) {
  auto get = [&](const char* key) {
    const char* v = getenv_fn(key);
    return std::string(v == nullptr ? "" : v);
  };
  auto missing = [](const char* key, const std::string& command) {
    return CniError{
        kErrInvalidEnv,
        fmt::format("{} is not set; the container runtime must set it for {}", key, command), ""};
  };
  CniEnv env;
  env.command = get("CNI_COMMAND");
  env.container_id = get("CNI_CONTAINERID");
  env.netns = get("CNI_NETNS");
  env.ifname = get("CNI_IFNAME");
  env.path = get("CNI_PATH");
  const std::string& cmd = env.command;
  if (cmd.empty()) return missing("CNI_COMMAND", "any command");
  bool per_attachment = cmd == "ADD" || cmd == "DEL" || cmd == "CHECK";
  if (!per_attachment && cmd != "VERSION" && cmd != "STATUS" && cmd != "GC") {
    return CniError{kErrInvalidEnv,
                    fmt::format("unknown CNI_COMMAND \"{}\"; expected ADD, DEL, CHECK, STATUS, "
                                "GC or VERSION",
                                cmd),
                    ""};
  }
  if (per_attachment) {
    if (env.container_id.empty()) return missing("CNI_CONTAINERID", cmd);
    if (env.ifname.empty()) return missing("CNI_IFNAME", cmd);
    if (env.ifname.size() > 15 || env.ifname.find('/') != std::string::npos || env.ifname == "." ||
        env.ifname == "..") {
      return CniError{kErrInvalidEnv,
                      fmt::format("CNI_IFNAME \"{}\" is not a valid interface name (at most 15 "
                                  "characters, no '/')",
                                  env.ifname),
                      ""};
    }
    if (cmd != "DEL" && env.netns.empty()) return missing("CNI_NETNS", cmd);
  }
  auto args = parseCniArgs(get("CNI_ARGS"));
  if (!args.ok()) return args.error();
  env.args = std::move(args.value());
  return env;
}

std::string hostVethName(const std::string& container_id, const std::string& ifname) {
  return "lxc" + hashSuffix(container_id, ifname);
}

std::string tempPeerName(const std::string& container_id, const std::string& ifname) {
  return "tmp" + hashSuffix(container_id, ifname);
}

}  // namespace petrel::cni
