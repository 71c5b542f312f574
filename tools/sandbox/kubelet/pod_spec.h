// The parts of a Pod the sandbox kubelet acts on, decoded and validated from the API's JSON:
// identity, deletion state, network mode, restart policy and each container's command, env and
// readiness probe. The image is ignored: a container runs its command as a local process
// (petrel-workload when it has none).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

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

struct ContainerSpec {
  std::string name;
  std::vector<std::string> command;  // empty: petrel-workload, or `args` alone (see argv())
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // literal values only
  std::string working_dir;
  std::optional<Probe> readiness;

  // What the sandbox runs, since it has no images (their entrypoints): `command` + `args`;
  // with `args` but no `command` (`kubectl run NAME --image=... -- CMD ARGS`) the args are the
  // command; with neither, petrel-workload.
  std::vector<std::string> argv() const;
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
  std::vector<ContainerSpec> containers;

  std::string key() const { return namespace_ + "/" + name; }
};

// Errors name the pod and the field ("default/web: spec.containers[0].name: missing").
Result<PodSpec> decodePodSpec(const nlohmann::json& pod);

}  // namespace petrel::sandbox
