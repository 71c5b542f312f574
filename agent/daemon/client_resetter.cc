// ClientResetter: see client_resetter.h.
#include "agent/daemon/client_resetter.h"

#include <spdlog/spdlog.h>

namespace petrel::agent {

ClientResetter::ClientResetter(FlowReconciler& flows,
                               std::function<std::vector<std::string>()> pod_netns)
    : flows_(flows),
      pod_netns_(std::move(pod_netns)),
      destroyer_(datapath::SocketDestroyer::load()) {
  if (!destroyer_) {
    spdlog::warn("{}: connections to removed backends will time out instead of being reset",
                 destroyer_.status().toString());
  }
}

void ClientResetter::reset(Ipv4Addr ip, uint16_t port, uint8_t proto) {
  flows_.forget({ip.value, port, proto});
  if (!destroyer_) return;
  std::vector<std::string> netns = {""};  // the node's own
  for (auto& path : pod_netns_()) {
    if (!path.empty()) netns.push_back(std::move(path));
  }
  auto n = (*destroyer_)->destroy(ip, port, netns);
  if (!n) {
    spdlog::warn("destroy sockets to removed backend {}:{}: {}", ip.toString(), port,
                 n.status().message());
  } else if (*n > 0) {
    spdlog::info("backend {}:{} removed: reset {} connections to it", ip.toString(), port, *n);
  }
}

}  // namespace petrel::agent
