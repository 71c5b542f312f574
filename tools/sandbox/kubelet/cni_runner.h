// A container runtime's side of CNI, as libcni does it: load the first network configuration of
// a conf directory (.conflist, or a single-plugin .conf/.json), run its plugin chain for ADD
// (passing each result on as prevResult) and DEL (in reverse), with the CNI_* environment,
// CNI_ARGS carrying the pod's identity and runtimeConfig for the capabilities plugins declare.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

struct CniNetwork {
  std::string file;  // where it came from
  std::string name;
  std::string cni_version;
  std::vector<nlohmann::json> plugins;
};

// The lexically first *.conflist, *.conf or *.json in `dir` (what kubelet and podman pick).
Result<CniNetwork> loadCniNetwork(const std::string& dir);

struct PortMapping {
  uint16_t host_port = 0;
  uint16_t container_port = 0;
  std::string protocol = "tcp";
};

struct CniAttachment {
  std::string container_id;
  std::string netns_path;
  std::string ifname = "eth0";
  std::string pod_namespace;
  std::string pod_name;
  std::string pod_uid;
  std::vector<PortMapping> port_mappings;  // runtimeConfig.portMappings
};

class CniRunner {
 public:
  // `bin_dir`: CNI_PATH, ':'-separated directories where plugins are looked up by "type".
  // `node_view`: bind mounts every plugin runs with (the node's own /var/run/petrel, so the
  // agent socket a conflist names is the node's agent).
  CniRunner(std::string conf_dir, std::string bin_dir, std::vector<BindMount> node_view = {})
      : conf_dir_(std::move(conf_dir)),
        bin_dir_(std::move(bin_dir)),
        node_view_(std::move(node_view)) {}

  // Runs ADD through the chain; returns the last plugin's result. When a plugin fails, the ones
  // before it are undone with DEL and the error carries the plugin's code and message.
  Result<nlohmann::json> add(const CniAttachment& attachment) const;
  // Runs DEL through the chain in reverse; `prev_result` is what ADD returned (may be null).
  Status del(const CniAttachment& attachment, const nlohmann::json& prev_result) const;

 private:
  Result<nlohmann::json> invoke(const std::string& command, const CniNetwork& net,
                                const nlohmann::json& plugin, const CniAttachment& attachment,
                                const nlohmann::json& prev_result) const;

  std::string conf_dir_;
  std::string bin_dir_;
  std::vector<BindMount> node_view_;
};

// The IPv4 addresses of a CNI result's "ips" (without prefix length), in order.
std::vector<std::string> cniResultIps(const nlohmann::json& result);

}  // namespace petrel::sandbox
