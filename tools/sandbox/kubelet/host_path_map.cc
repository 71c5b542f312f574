// Node paths -> this machine's paths.
#include "tools/sandbox/kubelet/host_path_map.h"

namespace petrel::sandbox {

namespace {

std::string withoutTrailingSlash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

Result<HostPathMap> HostPathMap::parse(const std::vector<std::string>& specs) {
  HostPathMap map;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos) {
      return makeError(Code::kInvalidArgument, "--host-path-map {}: want NODE_PATH=HOST_PATH",
                       spec);
    }
    std::string node = withoutTrailingSlash(spec.substr(0, eq));
    std::string host = withoutTrailingSlash(spec.substr(eq + 1));
    if (node.empty() || node.front() != '/' || host.empty() || host.front() != '/') {
      return makeError(Code::kInvalidArgument,
                       "--host-path-map {}: both paths must be absolute (NODE_PATH=HOST_PATH)",
                       spec);
    }
    map.entries_.emplace_back(std::move(node), std::move(host));
  }
  return map;
}

std::string HostPathMap::resolve(const std::string& node_path) const {
  const std::string path = withoutTrailingSlash(node_path);
  const std::pair<std::string, std::string>* best = nullptr;
  for (const auto& entry : entries_) {
    const std::string& prefix = entry.first;
    const bool under = path == prefix || (path.rfind(prefix, 0) == 0 && path[prefix.size()] == '/');
    if (under && (!best || prefix.size() > best->first.size())) best = &entry;
  }
  if (!best) return node_path;
  return best->second + path.substr(best->first.size());
}

std::vector<BindMount> HostPathMap::binds() const {
  std::vector<BindMount> out;
  for (const auto& [node, host] : entries_) out.push_back({host, node, false});
  return out;
}

}  // namespace petrel::sandbox
