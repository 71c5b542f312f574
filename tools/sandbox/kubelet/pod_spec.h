// The parts of a Pod the sandbox kubelet acts on, decoded and validated from the API's JSON:
// identity, deletion state, network mode, DNS, restart policy, volumes, and each (init)
// container's image, command, env, volume mounts and readiness probe. There are no images: a
// container runs its command as a local process (see image_entrypoint.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tools/sandbox/kubelet/volume_spec.h"

namespace petrel::sandbox {

struct Probe {
  enum class Kind { kHttpGet, kTcpSocket, kExec };
  Kind kind = Kind::kTcpSocket;
  std::string path = "/";            // httpGet
  uint16_t port = 0;                 // resolved number (named ports resolved at decode time)
  std::vector<std::string> command;  // exec
  int initial_delay_seconds = 0;
  int period_seconds = 10;
  int timeout_seconds = 1;
  int success_threshold = 1;
  int failure_threshold = 3;
};

// One entry of a container's env: a literal value ($(VAR) references expanded when the
// container starts) or a reference resolved then.
struct EnvVar {
  enum class Source { kValue, kFieldRef, kConfigMapKey, kSecretKey };
  std::string name;
  Source source = Source::kValue;
  std::string value;       // kValue
  std::string field_path;  // kFieldRef: "metadata.name", "metadata.labels['app']", ...
  std::string object;      // kConfigMapKey, kSecretKey: the object's name
  std::string key;         //   and the key in its data
  bool optional = false;   //   a missing object or key then gives no variable, not an error
};

struct VolumeMount {
  std::string name;  // a volume of the pod
  std::string mount_path;
  std::string sub_path;  // a path inside the volume; empty: all of it
  bool read_only = false;
};

struct ContainerSpec {
  std::string name;
  std::string image;
  std::vector<std::string> command;  // empty: the image's entrypoint (see image_entrypoint.h)
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::vector<VolumeMount> volume_mounts;  // each names one of the pod's volumes
  std::string working_dir;
  std::optional<Probe> readiness;
  // lifecycle.preStop.sleep.seconds: a stopping container gets SIGTERM this much later (within
  // the grace period), so Services have moved its traffic away first. Other preStop handlers
  // (exec, httpGet) are refused at decode.
  int pre_stop_sleep_seconds = 0;

  // What the sandbox runs for an image it has no entrypoint for: `command` + `args`; with
  // `args` but no `command` (`kubectl run NAME --image=... -- CMD ARGS`) the args are the
  // command; with neither, petrel-workload. ImageEntrypoints::argv() knows the mapped images.
  std::vector<std::string> argv() const;
};

// spec.dnsConfig: merged into the resolv.conf the dnsPolicy gives (see resolv_conf.h).
struct DnsConfig {
  std::vector<std::string> nameservers;
  std::vector<std::string> searches;
  std::vector<std::pair<std::string, std::optional<std::string>>> options;  // name, value
};

struct PodSpec {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string node_name;
  bool deleting = false;       // metadata.deletionTimestamp is set
  int64_t grace_seconds = 30;  // deletionGracePeriodSeconds, else terminationGracePeriodSeconds
  bool host_network = false;
  std::string restart_policy = "Always";  // Always, OnFailure, Never
  std::string phase;                      // status.phase as the API has it
  std::string service_account = "default";
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string dns_policy = "ClusterFirst";  // ClusterFirst, ClusterFirstWithHostNet, Default, None
  DnsConfig dns_config;
  std::vector<VolumeSpec> volumes;
  std::vector<ContainerSpec> init_containers;  // run one by one to completion first
  std::vector<ContainerSpec> containers;

  std::string key() const { return namespace_ + "/" + name; }
};

// Errors name the pod and the field ("default/web: spec.containers[0].name: missing").
Result<PodSpec> decodePodSpec(const nlohmann::json& pod);

}  // namespace petrel::sandbox
