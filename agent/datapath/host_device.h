// Node-side setup the pods depend on: IPv4 forwarding on, and the `petrel_host` dummy device
// that carries the pods' gateway address so pods can reach the node at it.
#pragma once

#include <string>

#include "common/ip.h"
#include "common/status.h"

namespace petrel::datapath {

inline constexpr const char* kHostDevice = "petrel_host";

// Idempotent: creates petrel_host if missing, brings it up, adds gateway/32 to it.
Status ensureHostDevice(Ipv4Addr gateway);
// Writes "1" to net.ipv4.ip_forward of the agent's network namespace.
Status enableForwarding();

}  // namespace petrel::datapath
