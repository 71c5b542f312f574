// The overlay: one VXLAN device per node (`petrel_vxlan`, MAC address = this node's VTEP MAC),
// the overlay BPF programs on its tc ingress and egress, and the tunnel map plus one route per
// remote pod CIDR through the device (so the node's own traffic to remote pods is tunnelled too).
// The device is collect_md by default (the egress program sets each packet's tunnel key) or
// classic (one fixed VNI, one forwarding entry per remote node: that node's VTEP MAC -> its
// address): see OverlayMode. Either way the uplink's program receives pod traffic before the
// device does (bpf/lib/overlay_decap.h).
#pragma once

#include <cstdint>
#include <optional>
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

// The overlay device's kind (the agent's --vxlan-mode). kCollectMd (the default): an external
// device; the egress program sets the tunnel key (remote node, VNI = source identity), the
// ingress program reads the VNI back. kClassic: the fixed VNI, remote nodes found through the
// device's forwarding entries, the source identity in the VXLAN-GBP policy id. Both devices have
// the GBP flag, as the XDP NodePort path writes it.
enum class OverlayMode { kClassic, kCollectMd };

// The MAC address of `node`'s overlay device: 02:50 and the node's IPv4 address. The overlay
// egress program addresses tunnelled frames to it (tunnel_vtep_mac() in bpf/lib/tunnel.h).
MacAddr vtepMac(Ipv4Addr node);

// Creates the device if missing (a device of that name with other settings, e.g. one of the
// other mode, is replaced), gives it this node's VTEP MAC (from the underlay device's first IPv4
// address), sets its MTU and brings it up. Returns its ifindex.
Result<int> ensureOverlayDevice(uint16_t port, uint32_t mtu, OverlayMode mode);
// Removes the device (tunnelling turned off); OK when absent.
Status removeOverlayDevice();

// The device holding the IPv4 default route ("" when there is none) and its MTU (1500 then).
std::string underlayDevice();
uint32_t underlayMtu();

// Keeps the tunnel map equal to the desired routes, plus one kernel route per remote pod CIDR:
// through the overlay device `ifindex` (tunnel mode: `overlay` set; a classic device also gets one
// forwarding entry per remote node), or via the remote node's address on the underlay device
// `ifindex` (native routing: no `overlay`). In native mode the map is only the record of what was
// routed, so routes of a previous run that are no longer wanted are found and removed.
class BpfTunnelDatapath : public core::TunnelDatapath {
 public:
  BpfTunnelDatapath(TunnelMap& map, int ifindex, std::optional<OverlayMode> overlay)
      : map_(map),
        ifindex_(ifindex),
        native_(!overlay),
        forwarding_entries_(overlay == OverlayMode::kClassic) {}
  Status apply(const core::TunnelRoutes& desired) override;

 private:
  TunnelMap& map_;
  int ifindex_;
  bool native_;
  bool forwarding_entries_;
};

}  // namespace petrel::datapath
