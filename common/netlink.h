// NetlinkSocket: the single owner of a libnl route socket, with the link/address/route/neighbour
// operations Petrel needs. A socket works in the network namespace it was created in, so create
// one inside a NetnsGuard to program a pod's namespace. Deletes are idempotent ("not found" is
// success); adds of routes and neighbours replace what is there.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/status.h"

struct nl_sock;

namespace petrel {

using MacAddr = std::array<uint8_t, 6>;

struct LinkInfo {
  int ifindex = 0;
  std::string name;
  MacAddr mac{};
  uint32_t mtu = 0;
  bool up = false;
};

struct AddrInfo {
  Ipv4Addr addr;
  uint8_t prefix_len = 0;
};

struct VethSpec {
  std::string name;       // created in the socket's namespace
  std::string peer_name;  // created in peer_netns_fd (or here when -1)
  int peer_netns_fd = -1;
  uint32_t mtu = 0;  // 0 = kernel default
};

// A VXLAN device without address learning or UDP checksums: classic (one VNI; its forwarding
// entries are added one per remote endpoint with replaceFdbEntry) or collect_md (`external`: a
// BPF program sets each packet's tunnel key, VNI and remote, and reads it on receive).
struct VxlanSpec {
  std::string name;
  bool collect_md = false;
  uint32_t vni = 0;   // classic only
  uint16_t port = 0;  // UDP destination port
  uint32_t mtu = 0;   // 0 = kernel default
  std::optional<MacAddr> mac;
  bool gbp = false;  // the group policy extension: the skb mark travels in the header
};

// Converts a negative libnl error code into a Status: "what: message".
Status netlinkStatus(int nl_err, const std::string& what);

class NetlinkSocket {
 public:
  // Opens and connects a NETLINK_ROUTE socket in the calling thread's current namespace.
  static Result<NetlinkSocket> open();
  NetlinkSocket(NetlinkSocket&&) noexcept;
  NetlinkSocket& operator=(NetlinkSocket&&) noexcept;
  ~NetlinkSocket();

  // Creates a veth pair; kAlreadyExists if either name is taken.
  Status addVeth(const VethSpec& spec);
  // Deletes a link by name; OK when it does not exist.
  Status deleteLink(const std::string& name);
  // kNotFound when the link does not exist.
  Result<LinkInfo> getLink(const std::string& name);
  Result<std::vector<LinkInfo>> listLinks();
  Status renameLink(const std::string& name, const std::string& new_name);
  Status setLinkUp(const std::string& name);
  Status setLinkMtu(const std::string& name, uint32_t mtu);

  // Adds addr/prefix_len on ifindex; OK if it is already there.
  Status addAddress(int ifindex, Ipv4Addr addr, uint8_t prefix_len);
  Result<std::vector<AddrInfo>> listAddresses(int ifindex);

  // Creates or replaces a main-table route dst -> (gateway) dev ifindex. A route without a
  // gateway gets scope link.
  Status replaceRoute(const Ipv4Cidr& dst, int ifindex, std::optional<Ipv4Addr> gateway);
  // Deletes the main-table route to dst; OK when there is none. A route via a gateway is found
  // only when `gateway` is given (the kernel matches the scope, link without one).
  Status deleteRoute(const Ipv4Cidr& dst, int ifindex,
                     std::optional<Ipv4Addr> gateway = std::nullopt);
  // Creates or replaces a PERMANENT neighbour entry ip -> mac on ifindex.
  Status replacePermanentNeighbour(int ifindex, Ipv4Addr ip, const MacAddr& mac);

  // Creates the VXLAN device (down, IFF_NOARP); kAlreadyExists if the name is taken.
  Status addVxlan(const VxlanSpec& spec);
  // Whether the link `spec.name` is such a VXLAN device: same collect_md, VNI (classic), port
  // and gbp (mtu and mac are not compared). False when it does not exist.
  bool vxlanMatches(const VxlanSpec& spec);
  Status setLinkMac(const std::string& name, const MacAddr& mac);
  // Creates or replaces the VXLAN device's PERMANENT forwarding entry: frames for `mac` go to
  // `remote`. deleteFdbEntry is OK when there is none.
  Status replaceFdbEntry(int ifindex, const MacAddr& mac, Ipv4Addr remote);
  Status deleteFdbEntry(int ifindex, const MacAddr& mac, Ipv4Addr remote);

 private:
  explicit NetlinkSocket(nl_sock* sock) : sock_(sock) {}
  nl_sock* sock_ = nullptr;
};

}  // namespace petrel
