// BpfEndpointDatapath: realises core endpoints in the kernel: the lxc program on the host
// veth's tc ingress and an entry in petrel_endpoints. The only writer of that map.
#pragma once

#include <functional>

#include "agent/core/endpoint.h"
#include "agent/datapath/map_types.h"
#include "maps.h"

namespace petrel::datapath {

// Builds the map key and value for an endpoint (zeroed, padding included). INVALID_ARGUMENT on a
// malformed MAC. `ifindex` is the live index of the host interface.
Result<endpoint_info> makeEndpointInfo(const core::Endpoint& ep, uint32_t ifindex);
endpoint_key makeEndpointKey(Ipv4Addr ip);

class BpfEndpointDatapath : public core::EndpointDatapath {
 public:
  using Attach = std::function<Status(uint32_t ifindex)>;
  using ResolveIfindex = std::function<Result<uint32_t>(const std::string& ifname)>;

  // `attach` puts the lxc program on an interface; `resolve` finds an interface by name.
  BpfEndpointDatapath(EndpointMap& map, Attach attach, ResolveIfindex resolve)
      : map_(map), attach_(std::move(attach)), resolve_(std::move(resolve)) {}

  Status apply(const core::Endpoint& endpoint) override;
  Status remove(const core::Endpoint& endpoint) override;
  Status prune(const std::vector<Ipv4Addr>& keep) override;

 private:
  EndpointMap& map_;
  Attach attach_;
  ResolveIfindex resolve_;
};

// Resolves an interface name in the agent's network namespace (if_nametoindex).
Result<uint32_t> resolveIfindexByName(const std::string& ifname);

}  // namespace petrel::datapath
