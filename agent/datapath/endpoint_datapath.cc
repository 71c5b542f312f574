// Endpoint map entries and program attachment for local pods.
#include "agent/datapath/endpoint_datapath.h"

#include <net/if.h>

#include <cstring>
#include <set>

namespace petrel::datapath {

endpoint_key makeEndpointKey(Ipv4Addr ip) {
  endpoint_key key;
  std::memset(&key, 0, sizeof(key));
  key.ip4 = ip.toNetwork();
  key.family = PETREL_AF_INET;
  return key;
}

Result<endpoint_info> makeEndpointInfo(const core::Endpoint& ep, uint32_t ifindex) {
  endpoint_info info;
  std::memset(&info, 0, sizeof(info));
  info.ifindex = ifindex;
  info.endpoint_id = ep.id;
  if (!parseMac(ep.pod_mac, info.pod_mac)) {
    return makeError(Code::kInvalidArgument, "pod MAC '{}' is malformed", ep.pod_mac);
  }
  if (!parseMac(ep.host_mac, info.host_mac)) {
    return makeError(Code::kInvalidArgument, "host MAC '{}' is malformed", ep.host_mac);
  }
  return info;
}

Result<uint32_t> resolveIfindexByName(const std::string& ifname) {
  unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) return errnoStatus(errno, "find interface " + ifname);
  return static_cast<uint32_t>(idx);
}

Status BpfEndpointDatapath::apply(const core::Endpoint& ep) {
  auto ifindex = resolve_(ep.host_ifname);
  if (!ifindex) return ifindex.status();
  auto info = makeEndpointInfo(ep, *ifindex);
  if (!info) return info.status();
  // Map entry first: the program drops traffic from a source it does not know.
  PETREL_RETURN_IF_ERROR(map_.update(makeEndpointKey(ep.ip), *info));
  return attach_(*ifindex);
}

Status BpfEndpointDatapath::remove(const core::Endpoint& ep) {
  return map_.remove(makeEndpointKey(ep.ip));
}

Status BpfEndpointDatapath::prune(const std::vector<Ipv4Addr>& keep) {
  std::set<uint32_t> wanted;
  for (const auto& ip : keep) wanted.insert(ip.toNetwork());
  auto keys = map_.keys();
  if (!keys) return keys.status();
  for (const auto& key : *keys) {
    if (key.family == PETREL_AF_INET && wanted.count(key.ip4)) continue;
    PETREL_RETURN_IF_ERROR(map_.remove(key));
  }
  return Status::ok();
}

}  // namespace petrel::datapath
