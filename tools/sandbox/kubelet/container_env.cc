// Env entries, fieldRefs and the kubernetes Service's variables -> a container's environment.
#include "tools/sandbox/kubelet/container_env.h"

#include <map>

#include <fmt/format.h>

#include "tools/sandbox/kubelet/var_expansion.h"

namespace petrel::sandbox {

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

// key="value" lines as the downward API writes a map, sorted by key.
std::string mapLines(const std::map<std::string, std::string>& m) {
  std::string out;
  for (const auto& [k, v] : m) {
    std::string quoted;
    for (char c : v) {
      if (c == '"' || c == '\\') quoted += '\\';
      if (c == '\n') {
        quoted += "\\n";
        continue;
      }
      quoted += c;
    }
    out += fmt::format("{}=\"{}\"\n", k, quoted);
  }
  return out;
}

// "metadata.labels['app']" -> "app" when `path` is `prefix` + ['key'] (or ["key"]).
std::optional<std::string> subscript(std::string_view path, std::string_view prefix) {
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = path.substr(prefix.size());
  if (rest.size() < 4 || rest.front() != '[' || rest.back() != ']') return std::nullopt;
  rest = rest.substr(1, rest.size() - 2);
  const char q = rest.front();
  if ((q != '\'' && q != '"') || rest.back() != q) return std::nullopt;
  return std::string(rest.substr(1, rest.size() - 2));
}

}  // namespace

Result<std::string> fieldRefValue(const PodSpec& pod, std::string_view path,
                                  const PodAddresses& addresses) {
  if (path == "metadata.name") return pod.name;
  if (path == "metadata.namespace") return pod.namespace_;
  if (path == "metadata.uid") return pod.uid;
  if (path == "metadata.labels") return mapLines(pod.labels);
  if (path == "metadata.annotations") return mapLines(pod.annotations);
  if (path == "spec.nodeName") return pod.node_name;
  if (path == "spec.serviceAccountName") return pod.service_account;
  if (path == "status.podIP") return addresses.pod_ips.empty() ? "" : addresses.pod_ips.front();
  if (path == "status.podIPs") return joined(addresses.pod_ips);
  if (path == "status.hostIP" || path == "status.hostIPs") return addresses.host_ip;
  for (auto [prefix, map] : {std::pair{"metadata.labels", &pod.labels},
                             std::pair{"metadata.annotations", &pod.annotations}}) {
    if (auto key = subscript(path, prefix)) {
      auto it = map->find(*key);
      return it == map->end() ? std::string() : it->second;
    }
  }
  return makeError(Code::kInvalidArgument, "fieldRef {}: not supported", path);
}

EnvList kubernetesServiceEnv(const std::string& ip, int port) {
  const std::string url = fmt::format("tcp://{}:{}", ip, port);
  const std::string p = std::to_string(port);
  const std::string prefix = fmt::format("KUBERNETES_PORT_{}_TCP", port);
  return {{"KUBERNETES_SERVICE_HOST", ip},
          {"KUBERNETES_SERVICE_PORT", p},
          {"KUBERNETES_SERVICE_PORT_HTTPS", p},
          {"KUBERNETES_PORT", url},
          {prefix, url},
          {prefix + "_PROTO", "tcp"},
          {prefix + "_PORT", p},
          {prefix + "_ADDR", ip}};
}

Result<EnvList> containerEnv(const PodSpec& pod, const ContainerSpec& container,
                             const PodAddresses& addresses, const EnvList& service_env,
                             ObjectSource& objects) {
  EnvList out;
  std::map<std::string, size_t> index;  // name -> position in out; a later entry replaces it
  auto set = [&](const std::string& name, std::string value) {
    if (auto it = index.find(name); it != index.end()) {
      out[it->second].second = std::move(value);
    } else {
      index[name] = out.size();
      out.emplace_back(name, std::move(value));
    }
  };
  std::map<std::string, std::string, std::less<>> services(service_env.begin(), service_env.end());
  VarLookup lookup = [&](std::string_view name) -> std::optional<std::string> {
    if (auto it = index.find(std::string(name)); it != index.end()) return out[it->second].second;
    if (auto it = services.find(name); it != services.end()) return it->second;
    return std::nullopt;
  };
  for (const auto& var : container.env) {
    const std::string where = fmt::format("container {}: env {}", container.name, var.name);
    switch (var.source) {
      case EnvVar::Source::kValue:
        set(var.name, expandVars(var.value, lookup));
        break;
      case EnvVar::Source::kFieldRef: {
        auto v = fieldRefValue(pod, var.field_path, addresses);
        if (!v) return makeError(Code::kInvalidArgument, "{}: {}", where, v.status().message());
        set(var.name, std::move(*v));
        break;
      }
      case EnvVar::Source::kConfigMapKey:
      case EnvVar::Source::kSecretKey: {
        const bool cm = var.source == EnvVar::Source::kConfigMapKey;
        const char* kind = cm ? "configmap" : "secret";
        auto data = cm ? objects.configMapData(pod.namespace_, var.object)
                       : objects.secretData(pod.namespace_, var.object);
        if (!data) {
          if (data.status().code() == Code::kNotFound && var.optional) break;
          return makeError(data.status().code(), "{}: {} \"{}\": {}", where, kind, var.object,
                           data.status().message());
        }
        auto it = data->find(var.key);
        if (it == data->end()) {
          if (var.optional) break;
          return makeError(Code::kNotFound, "{}: {} \"{}\" has no key \"{}\"", where, kind,
                           var.object, var.key);
        }
        set(var.name, it->second);
        break;
      }
    }
  }
  for (const auto& [name, value] : service_env) {
    if (!index.count(name)) {
      index[name] = out.size();
      out.emplace_back(name, value);
    }
  }
  return out;
}

std::vector<std::string> expandArgv(const std::vector<std::string>& argv, const EnvList& env) {
  std::map<std::string, std::string, std::less<>> vars;
  for (const auto& [k, v] : env) vars[k] = v;
  VarLookup lookup = [&](std::string_view name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) return it->second;
    return std::nullopt;
  };
  std::vector<std::string> out;
  for (const auto& a : argv) out.push_back(expandVars(a, lookup));
  return out;
}

}  // namespace petrel::sandbox
