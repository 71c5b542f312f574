// LinuxPodNetwork: PodNetwork over libnl. The pod side is created directly inside the pod netns
// under a temporary name (one atomic veth create), then renamed to CNI_IFNAME there.
#include "cni-plugin/pod_network.h"

#include "common/netns.h"

namespace petrel::cni {
namespace {

class LinuxPodNetwork : public PodNetwork {
 public:
  Status openNetns(const std::string& path) override {
    auto ns = NetnsHandle::open(path);
    if (!ns.isOk()) return ns.status();
    netns_ = std::move(ns).value();
    return Status::ok();
  }

  bool netnsOpen() const override { return netns_.valid(); }

  Result<bool> podInterfaceExists(const std::string& ifname) override {
    return runInNetns(netns_, [&]() -> Result<bool> {
      auto sock = NetlinkSocket::open();
      if (!sock.isOk()) return sock.status();
      auto link = sock->getLink(ifname);
      if (link.isOk()) return true;
      if (link.status().code() == Code::kNotFound) return false;
      return link.status();
    });
  }

  Result<PodNetworkInfo> setUp(const PodNetworkRequest& req) override {
    auto host = NetlinkSocket::open();
    if (!host.isOk()) return host.status();
    // A stale host veth of this attachment (an earlier ADD that died half way) goes first.
    PETREL_RETURN_IF_ERROR(host->deleteLink(req.host_ifname));
    PETREL_RETURN_IF_ERROR(
        host->addVeth({req.host_ifname, req.temp_peer_name, netns_.fd(), req.mtu}));
    auto host_link = host->getLink(req.host_ifname);
    if (!host_link.isOk()) return host_link.status();
    PodNetworkInfo info;
    info.host_ifindex = host_link->ifindex;
    info.host_mac = host_link->mac;
    PETREL_RETURN_IF_ERROR(host->setLinkUp(req.host_ifname));

    MacAddr gateway_mac = req.gateway_mac.value_or(info.host_mac);
    auto pod_mac = runInNetns(netns_, [&]() -> Result<MacAddr> {
      auto pod = NetlinkSocket::open();
      if (!pod.isOk()) return pod.status();
      PETREL_RETURN_IF_ERROR(pod->renameLink(req.temp_peer_name, req.pod_ifname));
      PETREL_RETURN_IF_ERROR(pod->setLinkUp("lo"));
      auto link = pod->getLink(req.pod_ifname);
      if (!link.isOk()) return link.status();
      PETREL_RETURN_IF_ERROR(pod->addAddress(link->ifindex, req.ip, 32));
      PETREL_RETURN_IF_ERROR(pod->setLinkUp(req.pod_ifname));
      PETREL_RETURN_IF_ERROR(pod->replaceRoute({req.gateway, 32}, link->ifindex, std::nullopt));
      PETREL_RETURN_IF_ERROR(pod->replaceRoute({Ipv4Addr{}, 0}, link->ifindex, req.gateway));
      PETREL_RETURN_IF_ERROR(
          pod->replacePermanentNeighbour(link->ifindex, req.gateway, gateway_mac));
      return link->mac;
    });
    if (!pod_mac.isOk()) return pod_mac.status();
    info.pod_mac = *pod_mac;

    PETREL_RETURN_IF_ERROR(host->replaceRoute({req.ip, 32}, info.host_ifindex, std::nullopt));
    PETREL_RETURN_IF_ERROR(
        host->replacePermanentNeighbour(info.host_ifindex, req.ip, info.pod_mac));
    return info;
  }

  Status netnsStillAlive() override { return netns_.stillAt(netns_.path()); }

  Status deleteHostVeth(const std::string& name) override {
    auto host = NetlinkSocket::open();
    if (!host.isOk()) return host.status();
    return host->deleteLink(name);
  }

  Status deletePodInterface(const std::string& ifname) override {
    if (!netns_.valid()) return Status::ok();
    return runInNetns(netns_, [&]() -> Status {
      auto pod = NetlinkSocket::open();
      if (!pod.isOk()) return pod.status();
      return pod->deleteLink(ifname);
    });
  }

  Result<PodLiveState> inspect(const std::string& host_ifname,
                               const std::string& pod_ifname) override {
    PodLiveState state;
    auto host = NetlinkSocket::open();
    if (!host.isOk()) return host.status();
    auto host_link = host->getLink(host_ifname);
    if (!host_link.isOk() && host_link.status().code() != Code::kNotFound) {
      return host_link.status();
    }
    state.host_exists = host_link.isOk();
    PETREL_RETURN_IF_ERROR(runInNetns(netns_, [&]() -> Status {
      auto pod = NetlinkSocket::open();
      if (!pod.isOk()) return pod.status();
      auto link = pod->getLink(pod_ifname);
      if (!link.isOk()) {
        return link.status().code() == Code::kNotFound ? Status::ok() : link.status();
      }
      state.pod_exists = true;
      auto addrs = pod->listAddresses(link->ifindex);
      if (!addrs.isOk()) return addrs.status();
      state.pod_addrs = std::move(addrs).value();
      return Status::ok();
    }));
    return state;
  }

 private:
  NetnsHandle netns_;
};

}  // namespace

std::unique_ptr<PodNetwork> makeLinuxPodNetwork() {
  return std::make_unique<LinuxPodNetwork>();
}

}  // namespace petrel::cni
