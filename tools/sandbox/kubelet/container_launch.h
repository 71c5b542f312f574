// What a container is started with, put together from the pod: its argv (the image's local
// entrypoint, $(VAR) expanded), its environment (container_env.h) and its bind mounts (each
// volumeMount's volume; the pod's resolv.conf at /etc/resolv.conf).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/sandbox/kubelet/container_env.h"
#include "tools/sandbox/kubelet/image_entrypoint.h"
#include "tools/sandbox/kubelet/object_source.h"
#include "tools/sandbox/kubelet/pod_runtime.h"

namespace petrel::sandbox {

struct LaunchContext {
  const ImageEntrypoints* images = nullptr;
  EnvList service_env;      // the kubernetes Service's variables
  std::string pod_dir;      // where the pod's volumes are (pod_volumes.h)
  std::string resolv_conf;  // a file mounted at /etc/resolv.conf; empty: the node's stays
};

Result<ContainerLaunch> buildLaunch(const PodSpec& pod, const ContainerSpec& container,
                                    const PodAddresses& addresses, const LaunchContext& context,
                                    ObjectSource& objects);

// Orders mounts so that one whose target lies under another's comes after it (by the depth of
// the target with symlinks resolved, as container runtimes order them): /var/run/petrel (that is
// /run/petrel) before /run/petrel/cgroupv2, which it would otherwise hide.
void sortParentsFirst(std::vector<BindMount>& mounts);

}  // namespace petrel::sandbox
