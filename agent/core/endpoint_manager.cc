// EndpointManager: allocate, create, delete, GC and repair of local endpoints; see the header.
#include "agent/core/endpoint_manager.h"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

namespace petrel::core {

EndpointManager::EndpointManager(Ipv4Cidr cidr, uint32_t mtu, StateStore& store,
                                 EndpointDatapath& datapath)
    : mtu_(mtu), store_(store), datapath_(datapath), ipam_(cidr) {}

Status EndpointManager::restore() {
  std::lock_guard lock(mu_);
  auto loaded = store_.load();
  if (!loaded) {
    if (loaded.status().code() == Code::kNotFound) return Status::ok();
    return loaded.status();
  }
  if (loaded->pod_cidr != ipam_.cidr().toString()) {
    return makeError(Code::kFailedPrecondition,
                     "saved state is for pod CIDR {} but the agent was started with {}; "
                     "remove the state file only if no pod of the old CIDR is left",
                     loaded->pod_cidr, ipam_.cidr().toString());
  }
  ipam_.setCursor(loaded->ipam_cursor);
  next_id_ = loaded->next_endpoint_id;
  for (auto& ep : loaded->endpoints) {
    if (auto st = ipam_.reserve(ep.key.toString(), ep.ip); !st) {
      spdlog::error("restore: dropping endpoint {}: {}", ep.key.toString(), st.toString());
      continue;
    }
    next_id_ = std::max(next_id_, ep.id + 1);
    endpoints_[ep.key] = std::move(ep);
  }
  spdlog::info("restored {} endpoints, {} addresses in use", endpoints_.size(), ipam_.allocated());
  return Status::ok();
}

Status EndpointManager::persistLocked() {
  AgentState state;
  state.pod_cidr = ipam_.cidr().toString();
  state.ipam_cursor = ipam_.cursor();
  state.next_endpoint_id = next_id_;
  for (const auto& [key, ep] : endpoints_) state.endpoints.push_back(ep);
  return store_.save(state).withContext("persist agent state");
}

Result<AllocatedIp> EndpointManager::allocateIp(const Endpoint& request) {
  if (request.key.container_id.empty() || request.key.ifname.empty()) {
    return Status(Code::kInvalidArgument, "container id and interface name are required");
  }
  std::lock_guard lock(mu_);
  auto it = endpoints_.find(request.key);
  if (it == endpoints_.end()) {
    auto ip = ipam_.allocate(request.key.toString());
    if (!ip) return ip.status();
    Endpoint ep = request;
    ep.id = next_id_++;
    ep.ip = *ip;
    ep.state = EndpointState::kIpAllocated;
    it = endpoints_.emplace(request.key, std::move(ep)).first;
    if (auto st = persistLocked(); !st) {
      ipam_.release(request.key.toString());
      endpoints_.erase(it);
      return st;
    }
    spdlog::info("allocated {} to {} (pod {}/{})", ip->toString(), request.key.toString(),
                 request.pod_namespace, request.pod_name);
  }
  return AllocatedIp{it->second.ip, ipam_.cidr(), ipam_.gateway(), mtu_};
}

Result<Endpoint> EndpointManager::createEndpoint(const Endpoint& request) {
  std::lock_guard lock(mu_);
  auto it = endpoints_.find(request.key);
  if (it == endpoints_.end()) {
    return makeError(Code::kFailedPrecondition,
                     "no address allocated for {}: call AllocateIp first", request.key.toString());
  }
  Endpoint& ep = it->second;
  if (request.ip != ep.ip) {
    return makeError(Code::kInvalidArgument, "endpoint {} holds {}, not {}", request.key.toString(),
                     ep.ip.toString(), request.ip.toString());
  }
  Endpoint next = ep;
  next.host_ifname = request.host_ifname;
  next.host_ifindex = request.host_ifindex;
  next.host_mac = request.host_mac;
  next.pod_mac = request.pod_mac;
  if (!request.netns.empty()) next.netns = request.netns;
  if (!request.pod_name.empty()) {
    next.pod_namespace = request.pod_namespace;
    next.pod_name = request.pod_name;
    next.pod_uid = request.pod_uid;
  }
  PETREL_RETURN_IF_ERROR(datapath_.apply(next).withContext("endpoint " + next.key.toString()));
  next.state = EndpointState::kReady;
  ep = next;
  PETREL_RETURN_IF_ERROR(persistLocked());
  spdlog::info("endpoint {} ready: {} on {} (ifindex {})", ep.id, ep.ip.toString(), ep.host_ifname,
               ep.host_ifindex);
  return ep;
}

Status EndpointManager::removeLocked(const AttachmentKey& key) {
  auto it = endpoints_.find(key);
  if (it == endpoints_.end()) return Status::ok();
  if (auto st = datapath_.remove(it->second); !st) {
    // The next full pass prunes the entry; the address stays reserved until then.
    return st.withContext("endpoint " + key.toString());
  }
  ipam_.release(key.toString());
  spdlog::info("endpoint {} ({}) deleted, {} released", it->second.id, key.toString(),
               it->second.ip.toString());
  endpoints_.erase(it);
  return Status::ok();
}

Result<bool> EndpointManager::deleteEndpoint(const AttachmentKey& key) {
  std::lock_guard lock(mu_);
  bool existed = endpoints_.count(key) > 0;
  PETREL_RETURN_IF_ERROR(removeLocked(key));
  if (existed) PETREL_RETURN_IF_ERROR(persistLocked());
  return existed;
}

Result<Endpoint> EndpointManager::get(const AttachmentKey& key) const {
  std::lock_guard lock(mu_);
  auto it = endpoints_.find(key);
  if (it == endpoints_.end()) {
    return makeError(Code::kNotFound, "no endpoint for {}", key.toString());
  }
  return it->second;
}

std::vector<Endpoint> EndpointManager::list() const {
  std::lock_guard lock(mu_);
  std::vector<Endpoint> out;
  for (const auto& [key, ep] : endpoints_) out.push_back(ep);
  std::sort(out.begin(), out.end(),
            [](const Endpoint& a, const Endpoint& b) { return a.id < b.id; });
  return out;
}

Result<std::vector<AttachmentKey>> EndpointManager::garbageCollect(
    const std::vector<AttachmentKey>& valid) {
  std::lock_guard lock(mu_);
  std::set<AttachmentKey> keep(valid.begin(), valid.end());
  std::vector<AttachmentKey> stale;
  for (const auto& [key, ep] : endpoints_) {
    if (!keep.count(key)) stale.push_back(key);
  }
  std::vector<AttachmentKey> released;
  Status first_error;
  for (const auto& key : stale) {
    if (auto st = removeLocked(key); st) {
      released.push_back(key);
    } else if (first_error.isOk()) {
      first_error = st;
    }
  }
  if (!released.empty()) PETREL_RETURN_IF_ERROR(persistLocked());
  if (!first_error.isOk()) return first_error;
  return released;
}

Status EndpointManager::fullPass() {
  std::lock_guard lock(mu_);
  std::vector<Ipv4Addr> keep;
  bool changed = false;
  for (auto& [key, ep] : endpoints_) {
    if (ep.state == EndpointState::kIpAllocated) continue;
    auto st = datapath_.apply(ep);
    EndpointState next = st ? EndpointState::kReady : EndpointState::kNotReady;
    if (!st) spdlog::warn("full pass: endpoint {}: {}", key.toString(), st.toString());
    if (next != ep.state) changed = true;
    ep.state = next;
    if (st) keep.push_back(ep.ip);
  }
  PETREL_RETURN_IF_ERROR(datapath_.prune(keep));
  if (changed) PETREL_RETURN_IF_ERROR(persistLocked());
  return Status::ok();
}

EndpointStats EndpointManager::stats() const {
  std::lock_guard lock(mu_);
  EndpointStats s;
  s.endpoints = static_cast<uint32_t>(endpoints_.size());
  for (const auto& [key, ep] : endpoints_) s.ready += ep.state == EndpointState::kReady;
  s.ips_allocated = ipam_.allocated();
  s.ips_total = ipam_.capacity();
  return s;
}

}  // namespace petrel::core
