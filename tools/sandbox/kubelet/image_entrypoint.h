// The sandbox has no images, so an image's entrypoint is a local command: `--image-entrypoint
// REPO=ARGV` says what a container of image repository REPO (the image name without tag or
// digest) runs when it has no `command`: ARGV followed by its `args`. Other containers run
// ContainerSpec::argv() (their command, or petrel-workload).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/sandbox/kubelet/pod_spec.h"

namespace petrel::sandbox {

// "registry.k8s.io/coredns/coredns:v1.15.0" -> "registry.k8s.io/coredns/coredns"; the digest
// ("@sha256:...") and the tag (after the last ':' following the last '/') are dropped.
std::string imageRepository(const std::string& image);

class ImageEntrypoints {
 public:
  // "REPO=ARGV" with ARGV space-separated; INVALID_ARGUMENT naming the flag's value if malformed.
  Status add(const std::string& flag);
  const std::map<std::string, std::vector<std::string>>& entries() const { return entries_; }

  // What `container` runs, before $(VAR) expansion.
  std::vector<std::string> argv(const ContainerSpec& container) const;

 private:
  std::map<std::string, std::vector<std::string>> entries_;  // repository -> ARGV
};

}  // namespace petrel::sandbox
