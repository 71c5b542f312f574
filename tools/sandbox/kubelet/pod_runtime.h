// What the sandbox kubelet does to run a pod on its node: a network namespace per pod (named so
// a person can `ip netns exec` into it), the real CNI chain for its network, its init containers
// one by one to completion, then each container's command as a process inside that namespace
// (with its volumes bind-mounted in a mount namespace of its own), restarted per restartPolicy
// and probed for readiness. Every pod's record lives in the state directory, so a restarted kubelet
// adopts its pods and `petrel-sandbox down` finds them after a crash.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tools/sandbox/common/process.h"
#include "tools/sandbox/kubelet/cni_runner.h"
#include "tools/sandbox/kubelet/host_path_map.h"
#include "tools/sandbox/kubelet/pod_spec.h"

namespace petrel::sandbox {

using SteadyTime = std::chrono::steady_clock::time_point;

struct ContainerRun {
  std::string name;
  pid_t pid = 0;  // 0: not running
  uint64_t start_time = 0;
  std::string started_at;  // RFC 3339
  int restarts = 0;
  int last_exit = -1;  // exit code of the last run, -1 before any exit
  bool done = false;   // exited and will not be restarted
  bool ready = false;
  int probe_successes = 0;
  int probe_failures = 0;
  SteadyTime next_probe{};
  SteadyTime next_start{};
  int backoff_seconds = 1;
  SteadyTime term_at{};  // stopping: SIGTERM is due then (after its preStop sleep); {}: sent
};

struct PodRecord {
  std::string uid;
  std::string namespace_;
  std::string name;
  std::string netns;  // name under /run/netns; empty for hostNetwork pods
  bool host_network = false;
  nlohmann::json cni_result;
  std::vector<std::string> ips;
  std::string started_at;
  std::vector<ContainerRun> init_containers;
  bool initialized = true;  // every init container succeeded (or there are none)
  std::vector<ContainerRun> containers;
  bool stopping = false;
  SteadyTime stop_deadline{};

  std::string key() const { return namespace_ + "/" + name; }
  // Pending while init containers run, then Running, Succeeded or Failed (a record exists only
  // once the pod started). An init container that failed for good fails the pod.
  std::string phase(const std::string& restart_policy) const;
};

// What one run of a container is started with: resolved by the kubelet from the pod, the API
// and the pod's addresses each time the container (re)starts.
struct ContainerLaunch {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE, added to (and replacing) the runtime's own
  std::vector<BindMount> mounts;
};
using LaunchResolver =
    std::function<Result<ContainerLaunch>(const PodRecord&, const ContainerSpec&)>;

struct RuntimeOptions {
  std::string node_name;
  std::string node_ip;
  std::string state_dir;     // records and container logs
  std::string netns_prefix;  // pod namespaces are <prefix><namespace>-<name>
  std::string bin_dir;       // put first on containers' PATH (petrel-workload lives there)
  std::string cni_conf_dir;
  std::string cni_bin_dir;
  // cgroup v2 directory every container and exec probe process joins before exec (the node's
  // cgroup, where its agent attaches socket hooks); empty: they stay in the kubelet's cgroup.
  std::string cgroup_dir;
  // The node's own parts of the host filesystem: CNI plugins run with them bind-mounted.
  HostPathMap host_paths;
};

class PodRuntime {
 public:
  explicit PodRuntime(RuntimeOptions options);

  // Reads the records a previous kubelet left; processes that still run are adopted.
  void loadRecords();
  std::vector<PodRecord*> records();
  PodRecord* find(const std::string& uid);

  // Network namespace, CNI ADD, then the first init container (or every container). When the
  // network or `resolve` fails, everything made so far is undone, the pod's directory included.
  Result<PodRecord*> start(const PodSpec& pod, const LaunchResolver& resolve);
  // Reaps exited containers, runs the next init container or restarts containers per the pod's
  // restartPolicy, runs due readiness probes. Returns true when something visible in the pod's
  // status changed.
  bool supervise(PodRecord& record, const PodSpec& pod, const LaunchResolver& resolve);
  // SIGTERM to every container; stopped() turns true when all exited or the grace ran out
  // (then SIGKILL).
  void beginStop(PodRecord& record, const PodSpec& pod, int64_t grace_seconds);
  bool stopped(PodRecord& record);
  // CNI DEL, namespace removal, record removal. The record pointer is invalid afterwards.
  Status teardown(const std::string& uid);

  const RuntimeOptions& options() const { return options_; }
  // "PATH=..." of every container and exec probe: the build's binaries (the images' commands)
  // first.
  std::string containerPath() const;
  std::string logPath(const PodRecord& record, const std::string& container) const;
  // The pod's directory in the state dir: its record, logs and volumes.
  std::string podDir(const std::string& ns, const std::string& name, const std::string& uid) const;

 private:
  Status startContainer(PodRecord& record, const PodSpec& pod, const ContainerSpec& spec,
                        ContainerRun& run, const ContainerLaunch& launch);
  Status restartContainer(PodRecord& record, const PodSpec& pod, const ContainerSpec& spec,
                          ContainerRun& run, const LaunchResolver& resolve);
  bool superviseInit(PodRecord& record, const PodSpec& pod, const LaunchResolver& resolve);
  bool reap(ContainerRun& c);
  bool probe(const PodRecord& record, const ContainerRun& run, const ContainerSpec& spec);
  CniAttachment attachment(const PodRecord& record) const;
  std::string podDir(const PodRecord& record) const;
  void save(const PodRecord& record) const;

  RuntimeOptions options_;
  CniRunner cni_;
  std::map<std::string, std::unique_ptr<PodRecord>> records_;  // by uid
};

// "<prefix><namespace>-<name>", kept within the file name limit.
std::string podNetnsName(const std::string& prefix, const std::string& ns, const std::string& name);

}  // namespace petrel::sandbox
