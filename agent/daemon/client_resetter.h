// ClientResetter: resets the clients of a backend that is gone. Sockets connected to it on this
// node (in every pod's namespace and the node's own) are destroyed at once; the conntrack entries
// of clients from outside are forgotten by the flows reconciler, so their next segment meets a
// reset instead of a blackhole.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/daemon/flow_reconciler.h"
#include "agent/daemon/service_reconciler.h"
#include "agent/datapath/socket_destroyer.h"

namespace petrel::agent {

class ClientResetter : public BackendResetter {
 public:
  // `pod_netns`: the network namespace paths of this node's pods, asked at each reset.
  ClientResetter(FlowReconciler& flows, std::function<std::vector<std::string>()> pod_netns);
  void reset(Ipv4Addr ip, uint16_t port, uint8_t proto) override;

 private:
  FlowReconciler& flows_;
  std::function<std::vector<std::string>()> pod_netns_;
  Result<std::unique_ptr<datapath::SocketDestroyer>> destroyer_;
};

}  // namespace petrel::agent
