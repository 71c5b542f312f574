// petrel_host/petrel_net veth pair and forwarding sysctl, through libnl-route.
#include "agent/datapath/host_device.h"

#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <sys/socket.h>

#include <fstream>
#include <memory>

namespace petrel::datapath {

namespace {
struct SockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct LinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrDeleter {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct NlAddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};

Status nlError(int err, const std::string& what) {
  return Status(err == -NLE_EXIST ? Code::kAlreadyExists : Code::kInternal,
                what + ": " + nl_geterror(err));
}
}  // namespace

Status enableForwarding() {
  std::ofstream f("/proc/sys/net/ipv4/ip_forward");
  if (!f || !(f << "1\n")) return errnoStatus(errno, "enable net.ipv4.ip_forward");
  return Status::ok();
}

Status ensureHostDevice(Ipv4Addr gateway) {
  std::unique_ptr<nl_sock, SockDeleter> sock(nl_socket_alloc());
  if (!sock) return Status(Code::kResourceExhausted, "allocate netlink socket");
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
    return nlError(err, "netlink connect");

  // A veth pair, as dummy devices need a module this kernel may not have.
  std::unique_ptr<rtnl_link, LinkDeleter> link(rtnl_link_veth_alloc());
  if (!link) return Status(Code::kResourceExhausted, "allocate veth link");
  rtnl_link_set_name(link.get(), kHostDevice);
  rtnl_link_set_name(rtnl_link_veth_get_peer(link.get()), kHostPeerDevice);
  int err = rtnl_link_add(sock.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0 && err != -NLE_EXIST) return nlError(err, std::string("create ") + kHostDevice);

  rtnl_link* current = nullptr;
  for (const char* name : {kHostPeerDevice, kHostDevice}) {
    if (err = rtnl_link_get_kernel(sock.get(), 0, name, &current); err < 0)
      return nlError(err, std::string("find ") + name);
    std::unique_ptr<rtnl_link, LinkDeleter> found(current);
    std::unique_ptr<rtnl_link, LinkDeleter> change(rtnl_link_alloc());
    rtnl_link_set_flags(change.get(), IFF_UP);
    if (err = rtnl_link_change(sock.get(), found.get(), change.get(), 0); err < 0)
      return nlError(err, std::string("bring up ") + name);
  }
  if (err = rtnl_link_get_kernel(sock.get(), 0, kHostDevice, &current); err < 0)
    return nlError(err, std::string("find ") + kHostDevice);
  std::unique_ptr<rtnl_link, LinkDeleter> live(current);

  std::unique_ptr<rtnl_addr, AddrDeleter> addr(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(addr.get(), rtnl_link_get_ifindex(live.get()));
  uint32_t be = gateway.toNetwork();
  std::unique_ptr<nl_addr, NlAddrDeleter> local(nl_addr_build(AF_INET, &be, sizeof(be)));
  nl_addr_set_prefixlen(local.get(), 32);
  rtnl_addr_set_local(addr.get(), local.get());
  err = rtnl_addr_add(sock.get(), addr.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0 && err != -NLE_EXIST)
    return nlError(err, "add " + gateway.toString() + "/32 to " + kHostDevice);
  return Status::ok();
}

}  // namespace petrel::datapath
