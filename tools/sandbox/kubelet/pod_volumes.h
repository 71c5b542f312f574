// A pod's volumes made on the node: the files of projected, configMap, secret and downwardAPI
// volumes and the directory of an emptyDir, under <pod dir>/volumes/<name>/ (gone with the pod
// directory at teardown); a hostPath is the host path itself. Service account tokens are renewed
// once 80% of their lifetime has passed (at the latest after 24 hours), as the kubelet does.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/sandbox/kubelet/object_source.h"
#include "tools/sandbox/kubelet/pod_spec.h"

namespace petrel::sandbox {

// When a token issued at `issued` that expires at `expires` is due for renewal.
SystemTime tokenRenewalTime(SystemTime issued, SystemTime expires);

class PodVolumes {
 public:
  explicit PodVolumes(ObjectSource& objects) : objects_(objects) {}

  // Makes every volume of `pod` under `pod_dir`. The error names the volume and what failed
  // (a missing ConfigMap, a refused TokenRequest); the caller retries later. Files already there
  // are replaced, so it can be called again for a pod a restarted kubelet adopted.
  Status setUp(const PodSpec& pod, const std::string& pod_dir);
  // Whether setUp() succeeded for the pod in this process.
  bool isSetUp(const std::string& uid) const { return tokens_.count(uid) != 0; }
  // Renews the pod's tokens that are due at `now`; on failure the old token stays and the next
  // call tries again.
  Status renewTokens(const PodSpec& pod, SystemTime now);
  void forget(const std::string& uid) { tokens_.erase(uid); }

  // What `mount` shows, on the host: the volume's directory (or hostPath) and its subPath.
  static std::string sourcePath(const PodSpec& pod, const std::string& pod_dir,
                                const VolumeMount& mount);
  static std::string volumeDir(const std::string& pod_dir, const std::string& volume);

 private:
  struct Token {
    std::string file;
    FileSource source;
    IssuedToken issued;
  };
  Status writeFiles(const PodSpec& pod, const VolumeSpec& volume, const std::string& dir,
                    std::vector<Token>& tokens);

  ObjectSource& objects_;
  std::map<std::string, std::vector<Token>> tokens_;  // by pod uid
};

}  // namespace petrel::sandbox
