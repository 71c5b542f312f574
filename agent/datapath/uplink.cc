// Uplink setup: settings, attachment, and a warning when the node's own ephemeral ports overlap
// the translation range.
#include "agent/datapath/uplink.h"

#include <arpa/inet.h>

#include <fstream>

#include <spdlog/spdlog.h>

#include "agent/datapath/overlay.h"
#include "agent/datapath/tc_attach.h"
#include "common/netlink.h"

namespace petrel::datapath {

namespace {

// The node's own ephemeral range from /proc (this namespace's), if readable.
std::optional<PortRange> localPortRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned lo = 0, hi = 0;
  if (!(in >> lo >> hi) || lo > hi || hi > 65535) return std::nullopt;
  return PortRange{static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
}

Result<LinkInfo> uplink() {
  const std::string dev = underlayDevice();
  if (dev.empty()) {
    return makeError(Code::kFailedPrecondition,
                     "there is no default route, so no uplink for masquerading and NodePorts");
  }
  auto nl = NetlinkSocket::open();
  if (!nl) return nl.status();
  return nl->getLink(dev);
}

}  // namespace

Result<PortRange> parsePortRange(const std::string& text) {
  unsigned lo = 0, hi = 0;
  char dash = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%u%c%u%c", &lo, &dash, &hi, &extra) != 3 || dash != '-' ||
      lo < 1 || lo > hi || hi > 65535) {
    return makeError(Code::kInvalidArgument,
                     "port range '{}' is not MIN-MAX with 1 <= MIN <= MAX <= 65535, e.g. "
                     "61000-65535",
                     text);
  }
  return PortRange{static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
}

void writeNatConfig(nat_config& live, const UplinkSettings& s) {
  live.masquerade = 0;
  live.node_ip4 = s.node_ip.toNetwork();
  live.pod_net4 = s.pod_cidr.base.toNetwork();
  live.pod_mask4 = htonl(s.pod_cidr.mask());
  live.port_min = s.ports.min;
  live.port_max = s.ports.max;
  live.tunnel_port = htons(s.tunnel_port);
  live.tcp_timeout_ns = s.timeouts.tcp_established_ns;
  live.closing_timeout_ns = s.timeouts.tcp_closing_ns;
  live.udp_timeout_ns = s.timeouts.other_ns;
  live.masquerade = s.masquerade ? 1 : 0;
}

Result<Uplink> attachUplink(LoadedDatapath& dp, const Ipv4Cidr& pod_cidr, bool masquerade,
                            PortRange ports, uint16_t tunnel_port) {
  auto link = uplink();
  if (!link) return link.status();
  auto nl = NetlinkSocket::open();
  if (!nl) return nl.status();
  auto addrs = nl->listAddresses(link->ifindex);
  if (!addrs) return addrs.status();
  if (addrs->empty()) {
    return makeError(Code::kFailedPrecondition,
                     "the uplink {} has no IPv4 address (masquerading and Service source NAT "
                     "need one)",
                     link->name);
  }
  const Ipv4Addr address = addrs->front().addr;
  if (auto local = localPortRange(); local && local->min <= ports.max && ports.min <= local->max) {
    spdlog::warn(
        "masquerade ports {}-{} overlap this node's ephemeral ports {}-{} "
        "(net.ipv4.ip_local_port_range): a node connection and a pod's may collide",
        ports.min, ports.max, local->min, local->max);
  }
  UplinkSettings settings;
  settings.node_ip = address;
  settings.pod_cidr = pod_cidr;
  settings.masquerade = masquerade;
  settings.ports = ports;
  settings.tunnel_port = tunnel_port;
  writeNatConfig(dp.natConfig(), settings);
  const auto ifindex = static_cast<uint32_t>(link->ifindex);
  if (auto st = attachTc(ifindex, dp.uplinkEgressFd(), TcDirection::kEgress); !st) {
    return makeError(st.code(), "attach the uplink program to {} egress: {}", link->name,
                     st.message());
  }
  if (auto st = attachTc(ifindex, dp.uplinkIngressFd(), TcDirection::kIngress); !st) {
    return makeError(st.code(), "attach the uplink program to {} ingress: {}", link->name,
                     st.message());
  }
  return Uplink{link->name, ifindex, address};
}

}  // namespace petrel::datapath
