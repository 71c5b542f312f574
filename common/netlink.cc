// NetlinkSocket over libnl-route-3. Every libnl object is held by a unique_ptr with its put/free
// function, so no path leaks a reference.
#include "common/netlink.h"

#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <utility>

namespace petrel {
namespace {

// Owning pointers for libnl objects, each freed or put by its own libnl call.
template <auto Release>
struct LibnlRelease {
  template <typename T>
  void operator()(T* object) const {
    Release(object);
  }
};
using CachePtr = std::unique_ptr<nl_cache, LibnlRelease<nl_cache_free>>;
using LinkPtr = std::unique_ptr<rtnl_link, LibnlRelease<rtnl_link_put>>;
using NeighPtr = std::unique_ptr<rtnl_neigh, LibnlRelease<rtnl_neigh_put>>;
using NlAddrPtr = std::unique_ptr<nl_addr, LibnlRelease<nl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, LibnlRelease<rtnl_route_put>>;
using RtAddrPtr = std::unique_ptr<rtnl_addr, LibnlRelease<rtnl_addr_put>>;

NlAddrPtr ipv4Addr(Ipv4Addr ip, uint8_t prefix_len) {
  uint32_t be = ip.toNetwork();
  NlAddrPtr a(nl_addr_build(AF_INET, &be, sizeof(be)));
  if (a) nl_addr_set_prefixlen(a.get(), prefix_len);
  return a;
}

NlAddrPtr macAddr(const MacAddr& mac) {
  return NlAddrPtr(nl_addr_build(AF_LLC, mac.data(), mac.size()));
}

// A VXLAN device's forwarding entry mac -> remote (an AF_BRIDGE neighbour with NTF_SELF).
NeighPtr fdbEntry(int ifindex, const MacAddr& mac, Ipv4Addr remote) {
  NeighPtr n(rtnl_neigh_alloc());
  NlAddrPtr dst = ipv4Addr(remote, 32);
  NlAddrPtr ll = macAddr(mac);
  // The destination first: libnl takes the entry's family from it, then AF_BRIDGE replaces it.
  rtnl_neigh_set_dst(n.get(), dst.get());
  rtnl_neigh_set_family(n.get(), AF_BRIDGE);
  rtnl_neigh_set_ifindex(n.get(), ifindex);
  rtnl_neigh_set_lladdr(n.get(), ll.get());
  rtnl_neigh_set_state(n.get(), NUD_PERMANENT);
  rtnl_neigh_set_flags(n.get(), NTF_SELF);
  return n;
}

LinkInfo toLinkInfo(rtnl_link* link) {
  LinkInfo info;
  info.ifindex = rtnl_link_get_ifindex(link);
  if (const char* n = rtnl_link_get_name(link)) info.name = n;
  info.mtu = rtnl_link_get_mtu(link);
  info.up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
  if (nl_addr* mac = rtnl_link_get_addr(link); mac && nl_addr_get_len(mac) == 6) {
    std::memcpy(info.mac.data(), nl_addr_get_binary_addr(mac), 6);
  }
  return info;
}

// A dump that raced with a change comes back NLE_DUMP_INTR; it is consistent on a retry.
template <typename Fn>
int retryInterruptedDump(Fn&& dump) {
  int err = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    err = dump();
    if (err != -NLE_DUMP_INTR) break;
  }
  return err;
}

}  // namespace

Status netlinkStatus(int nl_err, const std::string& what) {
  int e = nl_err < 0 ? -nl_err : nl_err;
  Code code = Code::kInternal;
  switch (e) {
    case NLE_EXIST:
      code = Code::kAlreadyExists;
      break;
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
      code = Code::kNotFound;
      break;
    case NLE_PERM:
    case NLE_NOACCESS:
      code = Code::kPermissionDenied;
      break;
    case NLE_INVAL:
    case NLE_RANGE:
      code = Code::kInvalidArgument;
      break;
    case NLE_BUSY:
    case NLE_AGAIN:
    case NLE_INTR:
      code = Code::kUnavailable;
      break;
    case NLE_NOMEM:
      code = Code::kResourceExhausted;
      break;
    default:
      break;
  }
  return Status(code, what + ": " + nl_geterror(e));
}

Result<NetlinkSocket> NetlinkSocket::open() {
  nl_sock* sock = nl_socket_alloc();
  if (sock == nullptr) return Status(Code::kResourceExhausted, "nl_socket_alloc failed");
  NetlinkSocket s(sock);
  if (int err = nl_connect(sock, NETLINK_ROUTE); err < 0) {
    return netlinkStatus(err, "connect netlink route socket");
  }
  return s;
}

NetlinkSocket::NetlinkSocket(NetlinkSocket&& other) noexcept
    : sock_(std::exchange(other.sock_, nullptr)) {}

NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&& other) noexcept {
  if (this != &other) {
    if (sock_ != nullptr) nl_socket_free(sock_);
    sock_ = std::exchange(other.sock_, nullptr);
  }
  return *this;
}

NetlinkSocket::~NetlinkSocket() {
  if (sock_ != nullptr) nl_socket_free(sock_);  // also closes the socket
}

Status NetlinkSocket::addVeth(const VethSpec& spec) {
  LinkPtr link(rtnl_link_veth_alloc());
  if (!link) return Status(Code::kResourceExhausted, "rtnl_link_veth_alloc failed");
  rtnl_link_set_name(link.get(), spec.name.c_str());
  if (spec.mtu != 0) rtnl_link_set_mtu(link.get(), spec.mtu);
  // The peer is owned by the veth object; get_peer takes an extra reference.
  LinkPtr peer(rtnl_link_veth_get_peer(link.get()));
  rtnl_link_set_name(peer.get(), spec.peer_name.c_str());
  if (spec.mtu != 0) rtnl_link_set_mtu(peer.get(), spec.mtu);
  if (spec.peer_netns_fd >= 0) rtnl_link_set_ns_fd(peer.get(), spec.peer_netns_fd);
  int err = rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) {
    return netlinkStatus(err, "create veth " + spec.name + " <-> " + spec.peer_name);
  }
  return Status::ok();
}

Status NetlinkSocket::deleteLink(const std::string& name) {
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_delete(sock_, link.get());
  if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) return Status::ok();
  if (err < 0) return netlinkStatus(err, "delete link " + name);
  return Status::ok();
}

Result<LinkInfo> NetlinkSocket::getLink(const std::string& name) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock_, 0, name.c_str(), &raw);
  if (err < 0) return netlinkStatus(err, "get link " + name);
  LinkPtr link(raw);
  return toLinkInfo(link.get());
}

Result<std::vector<LinkInfo>> NetlinkSocket::listLinks() {
  nl_cache* raw = nullptr;
  int err = retryInterruptedDump([&] { return rtnl_link_alloc_cache(sock_, AF_UNSPEC, &raw); });
  if (err < 0) return netlinkStatus(err, "dump links");
  CachePtr cache(raw);
  std::vector<LinkInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    out.push_back(toLinkInfo(reinterpret_cast<rtnl_link*>(o)));
  }
  return out;
}

namespace {
Status changeLink(nl_sock* sock, const std::string& name, rtnl_link* change,
                  const std::string& what) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &raw);
  if (err < 0) return netlinkStatus(err, what);
  LinkPtr orig(raw);
  err = rtnl_link_change(sock, orig.get(), change, 0);
  if (err < 0) return netlinkStatus(err, what);
  return Status::ok();
}
}  // namespace

Status NetlinkSocket::renameLink(const std::string& name, const std::string& new_name) {
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_name(change.get(), new_name.c_str());
  return changeLink(sock_, name, change.get(), "rename link " + name + " to " + new_name);
}

Status NetlinkSocket::setLinkUp(const std::string& name) {
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  return changeLink(sock_, name, change.get(), "set link " + name + " up");
}

Status NetlinkSocket::setLinkMtu(const std::string& name, uint32_t mtu) {
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_mtu(change.get(), mtu);
  return changeLink(sock_, name, change.get(), fmt::format("set mtu {} on {}", mtu, name));
}

Status NetlinkSocket::addAddress(int ifindex, Ipv4Addr addr, uint8_t prefix_len) {
  RtAddrPtr a(rtnl_addr_alloc());
  NlAddrPtr local = ipv4Addr(addr, prefix_len);
  rtnl_addr_set_ifindex(a.get(), ifindex);
  rtnl_addr_set_family(a.get(), AF_INET);
  rtnl_addr_set_local(a.get(), local.get());
  rtnl_addr_set_prefixlen(a.get(), prefix_len);
  int err = rtnl_addr_add(sock_, a.get(), 0);
  if (err == -NLE_EXIST) return Status::ok();
  if (err < 0) {
    return netlinkStatus(
        err, fmt::format("add address {}/{} on ifindex {}", addr.toString(), prefix_len, ifindex));
  }
  return Status::ok();
}

Result<std::vector<AddrInfo>> NetlinkSocket::listAddresses(int ifindex) {
  nl_cache* raw = nullptr;
  int err = retryInterruptedDump([&] { return rtnl_addr_alloc_cache(sock_, &raw); });
  if (err < 0) return netlinkStatus(err, "dump addresses");
  CachePtr cache(raw);
  std::vector<AddrInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET) continue;
    nl_addr* local = rtnl_addr_get_local(a);
    if (local == nullptr || nl_addr_get_len(local) != 4) continue;
    uint32_t be = 0;
    std::memcpy(&be, nl_addr_get_binary_addr(local), 4);
    out.push_back({Ipv4Addr::fromNetwork(be), static_cast<uint8_t>(rtnl_addr_get_prefixlen(a))});
  }
  return out;
}

Status NetlinkSocket::replaceRoute(const Ipv4Cidr& dst, int ifindex,
                                   std::optional<Ipv4Addr> gateway) {
  RoutePtr route(rtnl_route_alloc());
  NlAddrPtr dst_addr = ipv4Addr(dst.base, dst.prefix_len);
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_BOOT);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_route_set_scope(route.get(), gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  rtnl_route_set_dst(route.get(), dst_addr.get());
  rtnl_nexthop* nh = rtnl_route_nh_alloc();  // owned by the route once added
  rtnl_route_nh_set_ifindex(nh, ifindex);
  if (gateway) {
    NlAddrPtr gw = ipv4Addr(*gateway, 32);
    rtnl_route_nh_set_gateway(nh, gw.get());
  }
  rtnl_route_add_nexthop(route.get(), nh);
  int err = rtnl_route_add(sock_, route.get(), NLM_F_CREATE | NLM_F_REPLACE);
  if (err < 0) {
    return netlinkStatus(err, fmt::format("add route {} dev ifindex {}{}", dst.toString(), ifindex,
                                          gateway ? " via " + gateway->toString() : ""));
  }
  return Status::ok();
}

Status NetlinkSocket::deleteRoute(const Ipv4Cidr& dst, int ifindex,
                                  std::optional<Ipv4Addr> gateway) {
  RoutePtr route(rtnl_route_alloc());
  NlAddrPtr dst_addr = ipv4Addr(dst.base, dst.prefix_len);
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  // The kernel matches the protocol too: the one replaceRoute() uses (libnl defaults to static).
  rtnl_route_set_protocol(route.get(), RTPROT_BOOT);
  rtnl_route_set_dst(route.get(), dst_addr.get());
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nh, ifindex);
  NlAddrPtr gw = gateway ? ipv4Addr(*gateway, 32) : NlAddrPtr();
  if (gw) rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_add_nexthop(route.get(), nh);
  int err = rtnl_route_delete(sock_, route.get(), 0);
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NOADDR) return Status::ok();
  if (err < 0) return netlinkStatus(err, "delete route " + dst.toString());
  return Status::ok();
}

Status NetlinkSocket::replacePermanentNeighbour(int ifindex, Ipv4Addr ip, const MacAddr& mac) {
  NeighPtr neigh(rtnl_neigh_alloc());
  NlAddrPtr dst = ipv4Addr(ip, 32);
  NlAddrPtr ll = macAddr(mac);
  rtnl_neigh_set_family(neigh.get(), AF_INET);
  rtnl_neigh_set_ifindex(neigh.get(), ifindex);
  rtnl_neigh_set_dst(neigh.get(), dst.get());
  rtnl_neigh_set_lladdr(neigh.get(), ll.get());
  rtnl_neigh_set_state(neigh.get(), NUD_PERMANENT);
  int err = rtnl_neigh_add(sock_, neigh.get(), NLM_F_CREATE | NLM_F_REPLACE);
  if (err < 0) {
    return netlinkStatus(err, fmt::format("add neighbour {} lladdr {} on ifindex {}", ip.toString(),
                                          formatMac(mac.data()), ifindex));
  }
  return Status::ok();
}

Status NetlinkSocket::addVxlan(const VxlanSpec& spec) {
  LinkPtr link(rtnl_link_vxlan_alloc());
  if (!link) return Status(Code::kResourceExhausted, "rtnl_link_vxlan_alloc failed");
  rtnl_link_set_name(link.get(), spec.name.c_str());
  if (spec.mtu != 0) rtnl_link_set_mtu(link.get(), spec.mtu);
  rtnl_link_set_flags(link.get(), IFF_NOARP);
  NlAddrPtr mac;
  if (spec.mac) {
    mac = macAddr(*spec.mac);
    rtnl_link_set_addr(link.get(), mac.get());
  }
  if (spec.collect_md) {
    rtnl_link_vxlan_set_collect_metadata(link.get(), 1);
  } else {
    rtnl_link_vxlan_set_id(link.get(), spec.vni);
  }
  rtnl_link_vxlan_set_port(link.get(), spec.port);
  rtnl_link_vxlan_set_learning(link.get(), 0);
  rtnl_link_vxlan_set_udp_csum(link.get(), 0);
  if (spec.gbp) rtnl_link_vxlan_set_flags(link.get(), RTNL_LINK_VXLAN_F_GBP, 1);
  int err = rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) {
    return netlinkStatus(
        err, spec.collect_md
                 ? fmt::format("create vxlan {} (collect_md, udp {})", spec.name, spec.port)
                 : fmt::format("create vxlan {} (vni {}, udp {})", spec.name, spec.vni, spec.port));
  }
  return Status::ok();
}

bool NetlinkSocket::vxlanMatches(const VxlanSpec& spec) {
  rtnl_link* raw = nullptr;
  if (rtnl_link_get_kernel(sock_, 0, spec.name.c_str(), &raw) < 0) return false;
  LinkPtr link(raw);
  uint32_t vni = 0, port = 0, flags = 0;
  if (!rtnl_link_is_vxlan(link.get())) return false;
  const bool collect_md = rtnl_link_vxlan_get_collect_metadata(link.get()) == 1;
  return collect_md == spec.collect_md &&
         (collect_md || (rtnl_link_vxlan_get_id(link.get(), &vni) == 0 && vni == spec.vni)) &&
         rtnl_link_vxlan_get_port(link.get(), &port) == 0 && port == spec.port &&
         rtnl_link_vxlan_get_flags(link.get(), &flags) == 0 &&
         ((flags & RTNL_LINK_VXLAN_F_GBP) != 0) == spec.gbp;
}

Status NetlinkSocket::setLinkMac(const std::string& name, const MacAddr& mac) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock_, 0, name.c_str(), &raw);
  if (err < 0) return netlinkStatus(err, "get link " + name);
  LinkPtr orig(raw);
  NlAddrPtr want = macAddr(mac);
  nl_addr* have = rtnl_link_get_addr(orig.get());
  if (have && nl_addr_cmp(have, want.get()) == 0) return Status::ok();
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_addr(change.get(), want.get());
  err = rtnl_link_change(sock_, orig.get(), change.get(), 0);
  if (err < 0) return netlinkStatus(err, "set address of " + name);
  return Status::ok();
}

Status NetlinkSocket::replaceFdbEntry(int ifindex, const MacAddr& mac, Ipv4Addr remote) {
  NeighPtr n = fdbEntry(ifindex, mac, remote);
  int err = rtnl_neigh_add(sock_, n.get(), NLM_F_CREATE | NLM_F_REPLACE);
  if (err < 0) {
    return netlinkStatus(err, fmt::format("add forwarding entry {} -> {} on ifindex {}",
                                          formatMac(mac.data()), remote.toString(), ifindex));
  }
  return Status::ok();
}

Status NetlinkSocket::deleteFdbEntry(int ifindex, const MacAddr& mac, Ipv4Addr remote) {
  NeighPtr n = fdbEntry(ifindex, mac, remote);
  int err = rtnl_neigh_delete(sock_, n.get(), 0);
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return Status::ok();
  if (err < 0) {
    return netlinkStatus(err, fmt::format("delete forwarding entry {} -> {} on ifindex {}",
                                          formatMac(mac.data()), remote.toString(), ifindex));
  }
  return Status::ok();
}

}  // namespace petrel
