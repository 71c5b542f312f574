// LbState names for output.
#include "agent/core/lb_state.h"

namespace petrel::core {

const char* lbKindName(LbKind kind) {
  switch (kind) {
    case LbKind::kClusterIp:
      return "ClusterIP";
    case LbKind::kNodePort:
      return "NodePort";
    case LbKind::kExternalIp:
      return "ExternalIP";
    case LbKind::kLoadBalancer:
      return "LoadBalancer";
  }
  return "?";
}

std::string LbFrontend::toString() const {
  return ip.toString() + ":" + std::to_string(port) + (proto == kProtoUdp ? "/UDP" : "/TCP");
}

}  // namespace petrel::core
