// Where the sandbox puts things: names of its network namespaces and links, its addresses, its
// directories, and the state file that records what `up` started so `status` and `down` can find
// it. Everything the sandbox makes is named with the "psbx" prefix so `down` can also find what a
// crashed run left behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace petrel::sandbox {

inline constexpr const char* kPrefix = "psbx-";
inline constexpr const char* kUnderlayNetns = "psbx-underlay";
inline constexpr const char* kUnderlayBridge = "br0";
inline constexpr const char* kHostLink = "psbx0";         // root namespace end of the uplink
inline constexpr const char* kUnderlayUplink = "uplink";  // its peer, on the bridge
inline constexpr const char* kPodNetnsPrefix = "psbx-pod-";
inline constexpr const char* kDefaultStateDir = "/run/petrel-sandbox";
inline constexpr const char* kBpfRoot = "/sys/fs/bpf/petrel-sandbox";

struct Layout {
  std::string state_dir = kDefaultStateDir;
  int nodes = 2;
  uint16_t api_port = 6443;
  // Underlay 192.168.200.0/24: .1 the underlay router (the "outside"), .254 this machine,
  // .10+i node i.
  std::string underlay_prefix = "192.168.200.";

  std::string underlayGateway() const { return underlay_prefix + "1"; }
  std::string hostIp() const { return underlay_prefix + "254"; }
  std::string nodeName(int i) const { return "node-" + std::to_string(i); }
  std::string nodeNetns(int i) const { return kPrefix + nodeName(i); }
  std::string nodeIp(int i) const { return underlay_prefix + std::to_string(10 + i); }
  std::string podCidr(int i) const { return "10.244." + std::to_string(i) + ".0/24"; }
  std::string nodeDir(int i) const { return state_dir + "/nodes/" + nodeName(i); }
  std::string agentSocket(int i) const { return nodeDir(i) + "/petrel.sock"; }
  std::string bpfRoot(int i) const { return std::string(kBpfRoot) + "/" + nodeName(i); }
  std::string logDir() const { return state_dir + "/logs"; }
  std::string kubeconfig() const { return state_dir + "/kubeconfig"; }
  std::string stateFile() const { return state_dir + "/sandbox.json"; }
};

// A process `up` started, identified by pid and start time.
struct Component {
  std::string name;   // "apiserver", "node-1/agent", ...
  std::string netns;  // empty: the root namespace
  pid_t pid = 0;
  uint64_t start_time = 0;
  std::string log;
};

struct SandboxState {
  Layout layout;
  std::string api_url;
  std::vector<Component> components;
};

nlohmann::json toJson(const SandboxState& state);
// Reads <state_dir>/sandbox.json; NOT_FOUND when no sandbox was started there.
Result<SandboxState> loadState(const std::string& state_dir);
Status saveState(const SandboxState& state);

}  // namespace petrel::sandbox
