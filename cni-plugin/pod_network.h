// PodNetwork: the kernel side of a pod attachment (veth pair, addresses, routes, neighbours) behind
// an interface, so the ADD/DEL/CHECK logic and its rollback are unit tested with a fake.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/netlink.h"
#include "common/status.h"

namespace petrel::cni {

struct PodNetworkRequest {
  std::string host_ifname;     // lxc + hash, in the node netns
  std::string temp_peer_name;  // pod side before the rename
  std::string pod_ifname;      // CNI_IFNAME
  uint32_t mtu = 0;
  Ipv4Addr ip;
  Ipv4Addr gateway;
  std::optional<MacAddr> gateway_mac;  // unset: the host veth's MAC
};

struct PodNetworkInfo {
  int host_ifindex = 0;
  MacAddr host_mac{};
  MacAddr pod_mac{};
};

struct PodLiveState {
  bool host_exists = false;
  bool pod_exists = false;
  std::vector<AddrInfo> pod_addrs;
};

class PodNetwork {
 public:
  virtual ~PodNetwork() = default;
  // Opens the pod's netns: kNotFound when the path does not exist, kInvalidArgument when it is
  // not a network namespace.
  virtual Status openNetns(const std::string& path) = 0;
  virtual bool netnsOpen() const = 0;
  virtual Result<bool> podInterfaceExists(const std::string& ifname) = 0;
  // Creates and configures both sides. kAlreadyExists when pod_ifname is taken in the netns.
  // On failure the caller removes the host veth (which also removes the pod side).
  virtual Result<PodNetworkInfo> setUp(const PodNetworkRequest& req) = 0;
  // OK while the opened netns is still the one at its path.
  virtual Status netnsStillAlive() = 0;
  // Both idempotent: a missing interface (or netns, for the pod side) is success.
  virtual Status deleteHostVeth(const std::string& name) = 0;
  virtual Status deletePodInterface(const std::string& ifname) = 0;
  virtual Result<PodLiveState> inspect(const std::string& host_ifname,
                                       const std::string& pod_ifname) = 0;
};

// The real implementation over NetlinkSocket/NetnsGuard (needs CAP_NET_ADMIN).
std::unique_ptr<PodNetwork> makeLinuxPodNetwork();

}  // namespace petrel::cni
