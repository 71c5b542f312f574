// Masquerading setup: finds the uplink (the device of the default route) and its address, writes
// the uplink programs' settings and attaches them to the uplink's tc ingress and egress. Pod traffic
// that leaves the cluster then carries the node's address.
#pragma once

#include <cstdint>
#include <string>

#include "agent/datapath/loader.h"
#include "common/ip.h"
#include "common/status.h"

namespace petrel::datapath {

struct PortRange {
  uint16_t min = 0;
  uint16_t max = 0;
};

// Outside Linux's default ephemeral range (32768-60999), so node sockets and translated flows
// do not meet.
inline constexpr PortRange kDefaultMasqueradePorts{61000, 65535};

// Parses "MIN-MAX" (1 <= MIN <= MAX <= 65535).
Result<PortRange> parsePortRange(const std::string& text);

struct MasqueradeUplink {
  std::string device;
  Ipv4Addr address;
};

// Configures and attaches the uplink programs for pods in `pod_cidr`.
Result<MasqueradeUplink> enableMasquerade(LoadedDatapath& dp, const Ipv4Cidr& pod_cidr,
                                          PortRange ports);
// Turns translation off and detaches the programs from the uplink (a previous run's included).
Status disableMasquerade(LoadedDatapath& dp);

}  // namespace petrel::datapath
