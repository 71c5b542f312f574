// Pod and container spec -> argv, env and mounts of one container run.
#include "tools/sandbox/kubelet/container_launch.h"

#include <algorithm>
#include <filesystem>

#include "tools/sandbox/kubelet/pod_volumes.h"

namespace petrel::sandbox {

namespace {

// How many components `path` has once the symlinks on its way are resolved (/var/run/petrel is
// /run/petrel here: 2).
size_t resolvedDepth(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::weakly_canonical(path, ec);
  size_t depth = 0;
  for (const auto& part : ec ? std::filesystem::path(path) : real) {
    if (part != "/" && !part.empty()) ++depth;
  }
  return depth;
}

}  // namespace

void sortParentsFirst(std::vector<BindMount>& mounts) {
  std::stable_sort(mounts.begin(), mounts.end(), [](const BindMount& a, const BindMount& b) {
    return resolvedDepth(a.target) < resolvedDepth(b.target);
  });
}

Result<ContainerLaunch> buildLaunch(const PodSpec& pod, const ContainerSpec& container,
                                    const PodAddresses& addresses, const LaunchContext& context,
                                    ObjectSource& objects) {
  auto env = containerEnv(pod, container, addresses, context.service_env, objects);
  if (!env) return env.status();
  ContainerLaunch out;
  for (const auto& [k, v] : *env) out.env.push_back(k + "=" + v);
  out.argv = expandArgv(context.images ? context.images->argv(container) : container.argv(), *env);
  for (const auto& m : container.volume_mounts) {
    bool files = false;  // configMap, secret, projected and downwardAPI volumes are read-only
    for (const auto& v : pod.volumes) {
      if (v.name == m.name) files = v.kind == VolumeSpec::Kind::kFiles;
    }
    out.mounts.push_back(
        {PodVolumes::sourcePath(pod, context.pod_dir, m), m.mount_path, m.read_only || files});
  }
  if (!context.resolv_conf.empty()) {
    out.mounts.push_back({context.resolv_conf, "/etc/resolv.conf", false});
  }
  sortParentsFirst(out.mounts);
  return out;
}

}  // namespace petrel::sandbox
