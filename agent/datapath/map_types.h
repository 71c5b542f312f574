// The maps the agent writes, named by what they hold, as the interface their writers take:
// the kernel map (BpfMap, owned by LoadedDatapath) in the agent, a FakeMap in unit tests.
#pragma once

#include <cstdint>

#include "agent/datapath/map.h"
#include "maps.h"

namespace petrel::datapath {

using EndpointMap = Map<endpoint_key, endpoint_info>;
using TunnelMap = Map<tunnel_key, tunnel_info>;
using NatMap = Map<flow_key, nat_entry>;
using CtMap = Map<flow_key, ct_entry>;
using LbServiceMap = Map<lb_service_key, lb_service_value>;
using LbBackendMap = Map<uint32_t, lb_backend>;

}  // namespace petrel::datapath
