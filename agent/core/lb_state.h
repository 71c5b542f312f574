// LbState: the Service frontends this node load-balances and, for each, the backends new
// connections choose among — the desired content of the service and backend maps, derived from
// Services and EndpointSlices (agent/core/service_frontends.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/status.h"
#include "lb_kinds.h"

namespace petrel::core {

// The kind of a frontend, with the values of enum lb_kind (bpf/shared/lb_kinds.h, the one list).
enum class LbKind : uint8_t {
#define PETREL_LB_KIND_CXX(name, cxx_name, value, text) k##cxx_name = (value),
  PETREL_LB_KINDS(PETREL_LB_KIND_CXX)
#undef PETREL_LB_KIND_CXX
};
// "ClusterIP", "NodePort", ...; "?" for a value not in the list.
const char* lbKindName(LbKind kind);

inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;

struct LbFrontend {
  Ipv4Addr ip;
  uint16_t port = 0;
  uint8_t proto = kProtoTcp;
  auto operator<=>(const LbFrontend&) const = default;
  std::string toString() const;  // "10.96.0.10:80/TCP"
};

struct LbBackend {
  Ipv4Addr ip;
  uint16_t port = 0;
  bool terminating = false;  // serving but terminating: chosen only when nothing is ready
  std::string node;          // for output
  std::string pod;
  bool operator==(const LbBackend&) const = default;
};

struct LbService {
  std::string service;    // namespace/name
  std::string port_name;  // the Service port's name ("" when unnamed)
  LbKind kind = LbKind::kClusterIp;
  std::vector<LbBackend> backends;  // what new connections choose among, sorted by address
  bool affinity = false;            // sessionAffinity ClientIP
  uint32_t affinity_timeout = 10800;
  bool external_local = false;
  bool internal_local = false;
  // Traffic policy Local with no endpoint on this node while other nodes have some: the
  // packet layer drops new connections instead of rejecting them, as kube-proxy does.
  bool remote_only = false;
  bool operator==(const LbService&) const = default;
};

using LbState = std::map<LbFrontend, LbService>;

// Applies desired frontends to the datapath.
class LbDatapath {
 public:
  virtual ~LbDatapath() = default;
  // Makes the datapath hold exactly `desired`, touching only the frontends that differ.
  virtual Status apply(const LbState& desired) = 0;
};

}  // namespace petrel::core
