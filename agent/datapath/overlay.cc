// VXLAN device (with its forwarding entries), tunnel map and routes.
#include "agent/datapath/overlay.h"

#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/netlink.h"

namespace petrel::datapath {

namespace {

tunnel_key keyFor(const Ipv4Cidr& cidr) {
  tunnel_key key{};
  key.prefixlen = TUNNEL_KEY_PREFIX_BITS + cidr.prefix_len;
  key.family = PETREL_AF_INET;
  key.ip4 = cidr.base.toNetwork();
  return key;
}

Ipv4Cidr cidrOf(const tunnel_key& key) {
  return Ipv4Cidr{Ipv4Addr::fromNetwork(key.ip4),
                  static_cast<uint8_t>(key.prefixlen - TUNNEL_KEY_PREFIX_BITS)};
}

// The overlay device as Petrel wants it on `port`: classic (VNI kOverlayVni) or collect_md, with
// the group policy extension either way (classic: the source identity travels in the skb mark;
// both: the XDP NodePort path's packets carry it).
VxlanSpec overlaySpec(uint16_t port, uint32_t mtu, std::optional<MacAddr> mac, OverlayMode mode) {
  VxlanSpec spec;
  spec.name = kOverlayDevice;
  spec.collect_md = mode == OverlayMode::kCollectMd;
  spec.vni = kOverlayVni;
  spec.port = port;
  spec.mtu = mtu;
  spec.mac = mac;
  spec.gbp = true;
  return spec;
}

// The underlay device's first IPv4 address: the address other nodes know this node by.
std::optional<Ipv4Addr> nodeAddress(NetlinkSocket& nl) {
  const std::string dev = underlayDevice();
  if (dev.empty()) return std::nullopt;
  auto link = nl.getLink(dev);
  if (!link) return std::nullopt;
  auto addrs = nl.listAddresses(link->ifindex);
  if (!addrs || addrs->empty()) return std::nullopt;
  return addrs->front().addr;
}

}  // namespace

MacAddr vtepMac(Ipv4Addr node) {
  uint32_t be = node.toNetwork();
  MacAddr mac{0x02, 0x50, 0, 0, 0, 0};
  std::memcpy(&mac[2], &be, 4);
  return mac;
}

Result<int> ensureOverlayDevice(uint16_t port, uint32_t mtu, OverlayMode mode) {
  auto nl = NetlinkSocket::open();
  if (!nl) return nl.status();
  std::optional<MacAddr> mac;
  if (auto node = nodeAddress(*nl)) mac = vtepMac(*node);
  const VxlanSpec spec = overlaySpec(port, mtu, mac, mode);
  const std::string kind =
      spec.collect_md ? "VXLAN collect_md" : fmt::format("VXLAN, VNI {}", kOverlayVni);
  auto existing = nl->getLink(kOverlayDevice);
  if (existing && !nl->vxlanMatches(spec)) {
    // E.g. the device of the other --vxlan-mode.
    PETREL_RETURN_IF_ERROR(nl->deleteLink(kOverlayDevice));
    spdlog::info("removed {}: not a {} device on udp {}", kOverlayDevice, kind, port);
    existing = Status(Code::kNotFound, "replaced");
  }
  if (!existing) {
    PETREL_RETURN_IF_ERROR(nl->addVxlan(spec));
    spdlog::info("created {} ({}, udp {}, mtu {})", kOverlayDevice, kind, port, mtu);
  } else if (mac) {
    PETREL_RETURN_IF_ERROR(nl->setLinkMac(kOverlayDevice, *mac));
  }
  PETREL_RETURN_IF_ERROR(nl->setLinkMtu(kOverlayDevice, mtu));
  PETREL_RETURN_IF_ERROR(nl->setLinkUp(kOverlayDevice));
  auto link = nl->getLink(kOverlayDevice);
  if (!link) return link.status();
  return link->ifindex;
}

Status removeOverlayDevice() {
  auto nl = NetlinkSocket::open();
  if (!nl) return nl.status();
  return nl->deleteLink(kOverlayDevice);
}

std::string underlayDevice() {
  // /proc/net is this namespace's (unlike /sys/class/net after `nsenter --net`).
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::istringstream fields(line);
    std::string iface, destination;
    fields >> iface >> destination;
    if (destination == "00000000") return iface;
  }
  return "";
}

uint32_t underlayMtu() {
  const std::string dev = underlayDevice();
  auto nl = NetlinkSocket::open();
  if (dev.empty() || !nl) return 1500;
  auto link = nl->getLink(dev);
  return link && link->mtu >= 576 ? link->mtu : 1500;
}

Status BpfTunnelDatapath::apply(const core::TunnelRoutes& desired) {
  auto nl = NetlinkSocket::open();
  if (!nl) return nl.status();
  // A classic overlay device: one forwarding entry per remote node, for its VTEP MAC.
  auto fdb = [&](bool add, uint32_t node_be) {
    const Ipv4Addr node = Ipv4Addr::fromNetwork(node_be);
    return add ? nl->replaceFdbEntry(ifindex_, vtepMac(node), node)
               : nl->deleteFdbEntry(ifindex_, vtepMac(node), node);
  };
  auto keys = map_.keys();
  if (!keys) return keys.status();
  Status first = Status::ok();
  auto note = [&](Status s) {
    if (!s.isOk() && first.isOk()) first = std::move(s);
  };
  std::set<uint32_t> nodes;  // the remote nodes wanted, network order
  for (const auto& [cidr, route] : desired) nodes.insert(route.node_ip.toNetwork());
  for (const auto& key : *keys) {
    if (key.family != PETREL_AF_INET) continue;
    Ipv4Cidr cidr = cidrOf(key);
    if (desired.count(cidr)) continue;
    auto old = map_.lookup(key);
    note(map_.remove(key));
    note(nl->deleteRoute(cidr, ifindex_));
    if (forwarding_entries_ && old && !nodes.count(old->ip4)) {
      note(fdb(false, old->ip4));
    }
    spdlog::info("tunnel: removed {}", cidr.toString());
  }
  for (const auto& [cidr, route] : desired) {
    tunnel_info want{};
    want.ip4 = route.node_ip.toNetwork();
    want.family = PETREL_AF_INET;
    auto have = map_.lookup(keyFor(cidr));
    if (!have || have->ip4 != want.ip4) {
      // The node of this CIDR changed: its old node's forwarding entry goes if nothing needs it.
      if (forwarding_entries_ && have && !nodes.count(have->ip4)) {
        note(fdb(false, have->ip4));
      }
      note(map_.update(keyFor(cidr), want));
      spdlog::info("tunnel: {} via node {} ({})", cidr.toString(), route.node,
                   route.node_ip.toString());
    }
    // Routes (and the device's forwarding entries) are replaced every pass: cheap, and repairs
    // one someone deleted.
    note(nl->replaceRoute(cidr, ifindex_,
                          native_ ? std::optional<Ipv4Addr>(route.node_ip) : std::nullopt));
  }
  if (forwarding_entries_) {
    for (uint32_t node : nodes) note(fdb(true, node));
  }
  return first;
}

}  // namespace petrel::datapath
