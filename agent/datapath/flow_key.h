// flow_key (bpf/shared/maps.h), the key of the conntrack and NAT maps, on the C++ side: built the
// way the programs build it (flow_key_of in bpf/lib/flow.h).
#pragma once

#include <cstdint>

#include "maps.h"

namespace petrel::datapath {

// The key of one entry of a flow: addresses and ports in network order, as the packet carries
// them; `dir` an enum ct_dir (petrel_ct) or enum nat_dir (petrel_nat). Zeroed first: the
// padding is hashed.
inline flow_key makeFlowKey(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                            uint8_t proto, uint8_t dir) {
  flow_key k{};
  k.saddr = saddr;
  k.daddr = daddr;
  k.sport = sport;
  k.dport = dport;
  k.proto = proto;
  k.dir = dir;
  k.family = PETREL_AF_INET;
  return k;
}

}  // namespace petrel::datapath
