// The overlay: one VXLAN device per node (`petrel_vxlan`, one fixed VNI, no collect_md, MAC
// address = this node's VTEP MAC) with one forwarding entry per remote node (that node's VTEP MAC
// -> its address), the overlay BPF programs on its tc ingress and egress, and the tunnel map plus
// one route per remote pod CIDR through the device (so the node's own traffic to remote pods is
// tunnelled too).
#pragma once

#include <cstdint>
#include <string>

#include "agent/core/tunnel_routes.h"
#include "agent/datapath/loader.h"
#include "common/ip.h"
#include "common/netlink.h"
#include "common/status.h"

namespace petrel::datapath {

inline constexpr const char* kOverlayDevice = "petrel_vxlan";
inline constexpr uint16_t kDefaultVxlanPort = 8472;
inline constexpr uint32_t kVxlanOverhead = 50;  // outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
// Every node's device uses this VNI, as does the XDP NodePort path in the VXLAN packets it builds
// (bpf/lib/nodeport_xdp.h); the source identity travels in the group policy extension.
inline constexpr uint32_t kOverlayVni = PETREL_OVERLAY_VNI;

// The MAC address of `node`'s overlay device: 02:50 and the node's IPv4 address. The overlay
// egress program addresses tunnelled frames to it (tunnel_vtep_mac() in bpf/lib/tunnel.h).
MacAddr vtepMac(Ipv4Addr node);

// Creates the device if missing (a device of that name with other settings, e.g. an earlier
// version's collect_md device, is replaced), gives it this node's VTEP MAC (from the underlay
// device's first IPv4 address), sets its MTU and brings it up. Returns its ifindex.
Result<int> ensureOverlayDevice(uint16_t port, uint32_t mtu);
// Removes the device (tunnelling turned off); OK when absent.
Status removeOverlayDevice();

// The device holding the IPv4 default route ("" when there is none) and its MTU (1500 then).
std::string underlayDevice();
uint32_t underlayMtu();

// Keeps the tunnel map equal to the desired routes, plus one kernel route per remote pod CIDR:
// through the overlay device (tunnel mode, which also keeps one forwarding entry per remote node
// on the device), or via the remote node's address on the underlay device (native routing:
// `native_ifindex` set). In native mode the map is only the record of
// what was routed, so routes of a previous run that are no longer wanted are found and removed.
class BpfTunnelDatapath : public core::TunnelDatapath {
 public:
  BpfTunnelDatapath(TunnelMap& map, int ifindex, bool native)
      : map_(map), ifindex_(ifindex), native_(native) {}
  Status apply(const core::TunnelRoutes& desired) override;

 private:
  TunnelMap& map_;
  int ifindex_;
  bool native_;
};

}  // namespace petrel::datapath
