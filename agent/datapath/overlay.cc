// VXLAN device, tunnel map and routes.
#include "agent/datapath/overlay.h"

#include <fstream>
#include <set>
#include <sstream>

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

}  // namespace

Result<int> ensureOverlayDevice(uint16_t port, uint32_t mtu) {
  auto nl = NetlinkSocket::open();
  if (!nl) return nl.status();
  auto existing = nl->getLink(kOverlayDevice);
  if (!existing) {
    PETREL_RETURN_IF_ERROR(nl->addVxlan(kOverlayDevice, port, mtu));
    spdlog::info("created {} (VXLAN, external, udp {}, mtu {})", kOverlayDevice, port, mtu);
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
  auto keys = map_.keys();
  if (!keys) return keys.status();
  Status first = Status::ok();
  auto note = [&](Status s) {
    if (!s.isOk() && first.isOk()) first = std::move(s);
  };
  for (const auto& key : *keys) {
    if (key.family != PETREL_AF_INET) continue;
    Ipv4Cidr cidr = cidrOf(key);
    if (desired.count(cidr)) continue;
    note(map_.remove(key));
    note(nl->deleteRoute(cidr, ifindex_));
    spdlog::info("tunnel: removed {}", cidr.toString());
  }
  for (const auto& [cidr, route] : desired) {
    tunnel_info want{};
    want.ip4 = route.node_ip.toNetwork();
    want.family = PETREL_AF_INET;
    auto have = map_.lookup(keyFor(cidr));
    if (!have || have->ip4 != want.ip4) {
      note(map_.update(keyFor(cidr), want));
      spdlog::info("tunnel: {} via node {} ({})", cidr.toString(), route.node,
                   route.node_ip.toString());
    }
    // Routes are replaced every pass: cheap, and repairs one someone deleted.
    note(nl->replaceRoute(cidr, ifindex_,
                          native_ ? std::optional<Ipv4Addr>(route.node_ip) : std::nullopt));
  }
  return first;
}

}  // namespace petrel::datapath
