// Parsing of what the runtime hands petrel-cni: the network config on stdin, the CNI_* environment
// and CNI_ARGS, plus version negotiation and the deterministic host veth name.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cni-plugin/cni_error.h"

namespace petrel::cni {

inline constexpr std::array<const char*, 5> kSupportedVersions = {"0.3.0", "0.3.1", "0.4.0",
                                                                  "1.0.0", "1.1.0"};
inline constexpr const char* kLatestVersion = "1.1.0";
inline constexpr const char* kDefaultAgentSocket = "/var/run/petrel/petrel.sock";
inline constexpr uint32_t kMinMtu = 576;
inline constexpr uint32_t kMaxMtu = 65535;

bool isSupportedVersion(std::string_view version);
// Parses "a.b.c" (each a number); nullopt when malformed.
std::optional<std::array<int, 3>> parseVersion(std::string_view version);
// True when `version` is a well-formed version >= `minimum`.
bool versionAtLeast(std::string_view version, std::string_view minimum);

// One attachment as CNI names it: container id + interface name.
struct Attachment {
  std::string container_id;
  std::string ifname;
  bool operator==(const Attachment&) const = default;
};

struct NetConf {
  std::string cni_version;
  std::string name;
  std::string type;
  std::string agent_socket = kDefaultAgentSocket;
  std::optional<uint32_t> mtu;  // unset: use the agent's answer
  std::string log_file;         // empty: warnings to stderr only
  std::optional<nlohmann::json> prev_result;
  std::vector<Attachment> valid_attachments;  // "cni.dev/valid-attachments" (GC)
};

// Parses the network config. Errors: 7 for bad JSON, missing or mistyped fields and MTU out of
// range; 1 for an unknown or unsupported cniVersion. Unknown fields are ignored.
CniResult<NetConf> parseNetConf(std::string_view text);

struct CniArgs {
  std::string pod_namespace;                 // K8S_POD_NAMESPACE
  std::string pod_name;                      // K8S_POD_NAME
  std::string pod_uid;                       // K8S_POD_UID
  std::map<std::string, std::string> other;  // everything else, IgnoreUnknown included
};

// Parses "K=V;K=V". A pair without '=' or with an empty key is error 4. Unknown keys are kept in
// `other` and never rejected (runtimes always pass IgnoreUnknown=1 with the K8S_* keys).
CniResult<CniArgs> parseCniArgs(std::string_view text);

struct CniEnv {
  std::string command;       // CNI_COMMAND
  std::string container_id;  // CNI_CONTAINERID
  std::string netns;         // CNI_NETNS
  std::string ifname;        // CNI_IFNAME
  std::string path;          // CNI_PATH
  CniArgs args;              // CNI_ARGS
};

// Reads the CNI_* variables through `getenv` (injectable for tests) and checks the ones the
// command needs: error 4 for a missing CNI_COMMAND, an unknown command, or a missing
// CNI_CONTAINERID/CNI_IFNAME (ADD/DEL/CHECK) or CNI_NETNS (ADD/CHECK; DEL allows it empty).
using GetEnv = std::function<const char*(const char*)>;
CniResult<CniEnv> readCniEnv(GetEnv getenv_fn);

// "lxc" + 12 lowercase hex digits of a 64-bit FNV-1a hash of "<containerID>/<ifname>": 15
// characters, fits IFNAMSIZ, and DEL/GC can compute it without asking anyone.
std::string hostVethName(const std::string& container_id, const std::string& ifname);
// The temporary name of the pod side before it is renamed to CNI_IFNAME inside the netns.
std::string tempPeerName(const std::string& container_id, const std::string& ifname);

}  // namespace petrel::cni
