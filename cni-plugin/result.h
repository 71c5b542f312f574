// The JSON petrel-cni prints: ADD results for each cniVersion, the spec's error object and the
// VERSION answer; and the parts of a prevResult that CHECK compares.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cni-plugin/cni_error.h"
#include "common/ip.h"
#include "common/netlink.h"

namespace petrel::cni {

struct AddResult {
  std::string host_ifname;
  MacAddr host_mac{};
  std::string pod_ifname;
  MacAddr pod_mac{};
  std::string sandbox;  // CNI_NETNS
  uint32_t mtu = 0;
  Ipv4Addr ip;
  Ipv4Addr gateway;
};

// The ADD result for `version`: 0.3.x/0.4.0 shape (ips carry "version":"4") or 1.x shape
// (1.1.0 adds the interface "mtu").
nlohmann::json addResultJson(const AddResult& result, const std::string& version);
// {"cniVersion","code","msg","details"}; details omitted when empty.
nlohmann::json errorJson(const CniError& error, const std::string& version);
// {"cniVersion":..., "supportedVersions":[...]}
nlohmann::json versionJson(const std::string& version);

// Serializes for stdout; invalid UTF-8 (e.g. from an odd CNI_NETNS) is replaced, never thrown.
std::string dumpJson(const nlohmann::json& j);

// What CHECK needs from prevResult.
struct PrevResult {
  Ipv4Addr ip;
  std::optional<Ipv4Addr> gateway;
  std::string host_ifname;  // interface without "sandbox"
  std::string pod_ifname;   // interface with "sandbox"
};

// Reads ips[0] and the interfaces; error 7 when prevResult lacks them or they are malformed.
CniResult<PrevResult> parsePrevResult(const nlohmann::json& prev);

}  // namespace petrel::cni
