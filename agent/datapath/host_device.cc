// petrel_host/petrel_net veth pair and the forwarding sysctl, through common/netlink.
#include "agent/datapath/host_device.h"

#include <fstream>

#include "common/netlink.h"

namespace petrel::datapath {

Status enableForwarding() {
  std::ofstream f("/proc/sys/net/ipv4/ip_forward");
  if (!f || !(f << "1\n")) return errnoStatus(errno, "enable net.ipv4.ip_forward");
  return Status::ok();
}

Status ensureHostDevice(Ipv4Addr gateway) {
  auto nl = NetlinkSocket::open();
  if (!nl) return nl.status();
  // A veth pair, as dummy devices need a module this kernel may not have.
  if (!nl->getLink(kHostDevice)) {
    PETREL_RETURN_IF_ERROR(nl->addVeth({kHostDevice, kHostPeerDevice, -1, 0}));
  }
  PETREL_RETURN_IF_ERROR(nl->setLinkUp(kHostPeerDevice));
  PETREL_RETURN_IF_ERROR(nl->setLinkUp(kHostDevice));
  auto link = nl->getLink(kHostDevice);
  if (!link) return link.status();
  return nl->addAddress(link->ifindex, gateway, 32);  // an existing address is success
}

}  // namespace petrel::datapath
