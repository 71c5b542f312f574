// VXLAN device (with its forwarding entries), tunnel map and routes.
#include "agent/datapath/overlay.h"

#include <linux/if_ether.h>
#include <linux/neighbour.h>
#include <net/if.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "common/netlink.h"
#include "common/nl_ptr.h"

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

using nl::LinkPtr;
using nl::NeighPtr;
using nl::SockPtr;
using AddrPtr = nl::NlAddrPtr;

// A raw libnl route socket for what NetlinkSocket does not offer (a classic VXLAN device, its
// MAC address and its forwarding entries).
Result<SockPtr> openRaw() {
  SockPtr sock(nl_socket_alloc());
  if (!sock) return Status(Code::kResourceExhausted, "nl_socket_alloc failed");
  int err = nl_connect(sock.get(), NETLINK_ROUTE);
  if (err < 0) return netlinkStatus(err, "connect netlink route socket");
  return sock;
}

AddrPtr macAddr(const MacAddr& mac) {
  return AddrPtr(nl_addr_build(AF_LLC, mac.data(), mac.size()));
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

// Whether the existing device is the one Petrel wants: VXLAN, not collect_md, VNI kOverlayVni,
// on `port`, with the group policy extension (the source identity travels there).
bool deviceMatches(nl_sock* sock, uint16_t port) {
  rtnl_link* raw = nullptr;
  if (rtnl_link_get_kernel(sock, 0, kOverlayDevice, &raw) < 0) return false;
  LinkPtr link(raw);
  uint32_t vni = 0, have_port = 0, flags = 0;
  return rtnl_link_is_vxlan(link.get()) && rtnl_link_vxlan_get_collect_metadata(link.get()) == 0 &&
         rtnl_link_vxlan_get_id(link.get(), &vni) == 0 && vni == kOverlayVni &&
         rtnl_link_vxlan_get_port(link.get(), &have_port) == 0 && have_port == port &&
         rtnl_link_vxlan_get_flags(link.get(), &flags) == 0 && (flags & RTNL_LINK_VXLAN_F_GBP);
}

Status createDevice(nl_sock* sock, uint16_t port, uint32_t mtu, const std::optional<MacAddr>& mac) {
  LinkPtr link(rtnl_link_vxlan_alloc());
  if (!link) return Status(Code::kResourceExhausted, "rtnl_link_vxlan_alloc failed");
  rtnl_link_set_name(link.get(), kOverlayDevice);
  if (mtu != 0) rtnl_link_set_mtu(link.get(), mtu);
  rtnl_link_set_flags(link.get(), IFF_NOARP);
  AddrPtr addr;
  if (mac) {
    addr = macAddr(*mac);
    rtnl_link_set_addr(link.get(), addr.get());
  }
  rtnl_link_vxlan_set_id(link.get(), kOverlayVni);
  rtnl_link_vxlan_set_port(link.get(), port);
  rtnl_link_vxlan_set_learning(link.get(), 0);
  rtnl_link_vxlan_set_udp_csum(link.get(), 0);
  // VXLAN-GBP: the sender's skb mark (the source identity) travels in the header's group policy
  // field and is the receiver's skb mark.
  rtnl_link_vxlan_set_flags(link.get(), RTNL_LINK_VXLAN_F_GBP, 1);
  int err = rtnl_link_add(sock, link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0)
    return netlinkStatus(err, fmt::format("create vxlan {} (udp {})", kOverlayDevice, port));
  return Status::ok();
}

Status setDeviceMac(nl_sock* sock, const MacAddr& mac) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock, 0, kOverlayDevice, &raw);
  if (err < 0) return netlinkStatus(err, std::string("get link ") + kOverlayDevice);
  LinkPtr orig(raw);
  AddrPtr want = macAddr(mac);
  nl_addr* have = rtnl_link_get_addr(orig.get());
  if (have && nl_addr_cmp(have, want.get()) == 0) return Status::ok();
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_addr(change.get(), want.get());
  err = rtnl_link_change(sock, orig.get(), change.get(), 0);
  if (err < 0) return netlinkStatus(err, std::string("set address of ") + kOverlayDevice);
  return Status::ok();
}

// A forwarding entry of the overlay device: frames for `node`'s VTEP MAC go to `node`.
NeighPtr fdbEntry(int ifindex, Ipv4Addr node) {
  NeighPtr n(rtnl_neigh_alloc());
  uint32_t be = node.toNetwork();
  AddrPtr dst(nl_addr_build(AF_INET, &be, sizeof(be)));
  // The destination first: libnl takes the entry's family from it, then AF_BRIDGE replaces it.
  rtnl_neigh_set_dst(n.get(), dst.get());
  rtnl_neigh_set_family(n.get(), AF_BRIDGE);
  rtnl_neigh_set_ifindex(n.get(), ifindex);
  AddrPtr mac = macAddr(vtepMac(node));
  rtnl_neigh_set_lladdr(n.get(), mac.get());
  rtnl_neigh_set_state(n.get(), NUD_PERMANENT);
  rtnl_neigh_set_flags(n.get(), NTF_SELF);
  return n;
}

Status replaceFdb(nl_sock* sock, int ifindex, Ipv4Addr node) {
  NeighPtr n = fdbEntry(ifindex, node);
  int err = rtnl_neigh_add(sock, n.get(), NLM_F_CREATE | NLM_F_REPLACE);
  if (err < 0) return netlinkStatus(err, "add forwarding entry for node " + node.toString());
  return Status::ok();
}

Status deleteFdb(nl_sock* sock, int ifindex, Ipv4Addr node) {
  NeighPtr n = fdbEntry(ifindex, node);
  int err = rtnl_neigh_delete(sock, n.get(), 0);
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return Status::ok();
  if (err < 0) return netlinkStatus(err, "delete forwarding entry for node " + node.toString());
  return Status::ok();
}

}  // namespace

MacAddr vtepMac(Ipv4Addr node) {
  uint32_t be = node.toNetwork();
  MacAddr mac{0x02, 0x50, 0, 0, 0, 0};
  std::memcpy(&mac[2], &be, 4);
  return mac;
}

Result<int> ensureOverlayDevice(uint16_t port, uint32_t mtu) {
  auto nl = NetlinkSocket::open();
  if (!nl) return nl.status();
  auto raw = openRaw();
  if (!raw) return raw.status();
  std::optional<MacAddr> mac;
  if (auto node = nodeAddress(*nl)) mac = vtepMac(*node);
  auto existing = nl->getLink(kOverlayDevice);
  if (existing && !deviceMatches(raw->get(), port)) {
    // E.g. the collect_md device of an earlier version.
    PETREL_RETURN_IF_ERROR(nl->deleteLink(kOverlayDevice));
    spdlog::info("removed {}: not a VXLAN device with VNI {} on udp {}", kOverlayDevice,
                 kOverlayVni, port);
    existing = Status(Code::kNotFound, "replaced");
  }
  if (!existing) {
    PETREL_RETURN_IF_ERROR(createDevice(raw->get(), port, mtu, mac));
    spdlog::info("created {} (VXLAN, VNI {}, udp {}, mtu {})", kOverlayDevice, kOverlayVni, port,
                 mtu);
  } else if (mac) {
    PETREL_RETURN_IF_ERROR(setDeviceMac(raw->get(), *mac));
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
  SockPtr raw;  // forwarding entries are a tunnel-mode thing
  if (!native_) {
    auto opened = openRaw();
    if (!opened) return opened.status();
    raw = std::move(*opened);
  }
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
    if (!native_ && old && !nodes.count(old->ip4)) {
      note(deleteFdb(raw.get(), ifindex_, Ipv4Addr::fromNetwork(old->ip4)));
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
      if (!native_ && have && !nodes.count(have->ip4)) {
        note(deleteFdb(raw.get(), ifindex_, Ipv4Addr::fromNetwork(have->ip4)));
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
  if (!native_) {
    for (uint32_t node : nodes) note(replaceFdb(raw.get(), ifindex_, Ipv4Addr::fromNetwork(node)));
  }
  return first;
}

}  // namespace petrel::datapath
