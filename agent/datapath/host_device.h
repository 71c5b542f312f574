// Node-side setup the pods depend on: IPv4 forwarding on, and the `petrel_host` device (one end
// of a veth pair with `petrel_net`, as in Cilium) that carries the pods' gateway address so pods
// can reach the node at it.
#pragma once

#include <string>

#include "common/ip.h"
#include "common/status.h"

namespace petrel::datapath {

inline constexpr const char* kHostDevice = "petrel_host";
inline constexpr const char* kHostPeerDevice = "petrel_net";

// Idempotent: creates the petrel_host/petrel_net pair if missing, brings both up, adds gateway/32
// to it.
Status ensureHostDevice(Ipv4Addr gateway);
// Writes "1" to net.ipv4.ip_forward of the agent's network namespace.
Status enableForwarding();

}  // namespace petrel::datapath
