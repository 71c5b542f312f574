// TunnelRoutes: the other nodes' pod CIDRs and the underlay address of the node holding each —
// the desired content of the tunnel map and of this node's routes through the overlay device.
#pragma once

#include <map>
#include <string>

#include "common/ip.h"
#include "common/status.h"

namespace petrel::core {

struct TunnelRoute {
  Ipv4Addr node_ip;
  std::string node;  // for logs and `petrel` output
  bool operator==(const TunnelRoute&) const = default;
};

using TunnelRoutes = std::map<Ipv4Cidr, TunnelRoute>;

// Applies desired tunnel routes to the datapath; implemented over BPF maps and netlink.
class TunnelDatapath {
 public:
  virtual ~TunnelDatapath() = default;
  // Makes the datapath hold exactly `desired`: adds and changes what differs, removes the rest.
  virtual Status apply(const TunnelRoutes& desired) = 0;
};

}  // namespace petrel::core
