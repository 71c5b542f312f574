// The uplink (the device of the default route): finds it and its address, writes the uplink
// programs' settings and attaches them to its tc ingress and egress. They load-balance Services
// for traffic from outside (NodePort, externalIPs, LoadBalancer) and, when masquerading is on,
// give pod traffic that leaves the cluster the node's address.
#pragma once

#include <cstdint>
#include <string>

#include "agent/datapath/flow_timeouts.h"
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

// What the uplink programs are told: their settings (struct nat_config in their .bss).
struct UplinkSettings {
  Ipv4Addr node_ip;         // masquerading and the source NAT of Service traffic use it
  Ipv4Cidr pod_cidr;        // this node's pods
  bool masquerade = false;  // pods' traffic leaving the cluster gets node_ip
  PortRange ports = kDefaultMasqueradePorts;
  uint16_t tunnel_port = 0;  // the overlay's UDP port in tunnel mode, else 0
  FlowTimeouts timeouts;     // after these an idle flow's port may be taken over
};

// Writes `s` into `live`, the programs' settings as they read them (LoadedDatapath::natConfig()):
// masquerading is switched off first and on last, so no packet is translated with settings
// half written. The one place that fills a nat_config: the agent, the BPF tests and the
// benchmarks all use it.
void writeNatConfig(nat_config& live, const UplinkSettings& s);

struct Uplink {
  std::string device;
  uint32_t ifindex = 0;
  Ipv4Addr address;
};

// Configures and attaches the uplink programs for pods in `pod_cidr`; `ports` serve masquerading
// and the source NAT of Service traffic sent on to another node.
// `tunnel_port` is the overlay's UDP port in tunnel mode (0 otherwise): its packets for local
// pods are decapsulated and delivered first thing, the rest let through to the overlay device.
// The XDP fast path is attached after this (xdp_attach.h), as it relies on these settings and on
// the tc programs for what it passes on.
Result<Uplink> attachUplink(LoadedDatapath& dp, const Ipv4Cidr& pod_cidr, bool masquerade,
                            PortRange ports, uint16_t tunnel_port);

}  // namespace petrel::datapath
