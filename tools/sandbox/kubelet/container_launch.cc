// Pod and container spec -> argv, env and mounts of one container run.
#include "tools/sandbox/kubelet/container_launch.h"

#include "tools/sandbox/kubelet/pod_volumes.h"

namespace petrel::sandbox {

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
  return out;
}

}  // namespace petrel::sandbox
