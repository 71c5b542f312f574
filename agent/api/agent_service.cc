// AgentService: proto <-> core translation and validation of requests.
#include "agent/api/agent_service.h"

#include "common/version.h"

namespace petrel::api {

grpc::Status toGrpc(const Status& st) {
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (st.code()) {
    case Code::kOk:
      return grpc::Status::OK;
    case Code::kInvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case Code::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case Code::kAlreadyExists:
      code = grpc::StatusCode::ALREADY_EXISTS;
      break;
    case Code::kResourceExhausted:
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    case Code::kUnavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case Code::kFailedPrecondition:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case Code::kPermissionDenied:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case Code::kInternal:
      code = grpc::StatusCode::INTERNAL;
      break;
  }
  return {code, st.message()};
}

namespace {

core::AttachmentKey toKey(const v1::AttachmentRef& ref) {
  return {ref.container_id(), ref.ifname()};
}

void fillPod(const v1::PodRef& pod, core::Endpoint& ep) {
  ep.pod_namespace = pod.namespace_();
  ep.pod_name = pod.name();
  ep.pod_uid = pod.uid();
}

void toProto(const core::Endpoint& ep, v1::Endpoint* out) {
  out->set_id(ep.id);
  out->mutable_attachment()->set_container_id(ep.key.container_id);
  out->mutable_attachment()->set_ifname(ep.key.ifname);
  out->mutable_pod()->set_namespace_(ep.pod_namespace);
  out->mutable_pod()->set_name(ep.pod_name);
  out->mutable_pod()->set_uid(ep.pod_uid);
  out->set_netns(ep.netns);
  out->set_ip(ep.ip.toString());
  out->set_host_ifname(ep.host_ifname);
  out->set_host_ifindex(ep.host_ifindex);
  out->set_host_mac(ep.host_mac);
  out->set_pod_mac(ep.pod_mac);
  out->set_state(core::endpointStateName(ep.state));
}

grpc::Status requireAttachment(const v1::AttachmentRef& ref) {
  if (ref.container_id().empty() || ref.ifname().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "attachment.container_id and attachment.ifname are required"};
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status AgentService::Status(grpc::ServerContext*, const v1::StatusRequest*,
                                  v1::StatusResponse* out) {
  auto s = endpoints_.stats();
  out->set_ready(true);
  out->set_message("ok");
  out->set_version(kVersion);
  out->set_node_name(info_.node_name);
  out->set_pod_cidr(endpoints_.cidr().toString());
  out->set_endpoints(s.endpoints);
  out->set_ips_allocated(static_cast<uint32_t>(s.ips_allocated));
  out->set_ips_total(static_cast<uint32_t>(s.ips_total));
  out->set_bpf_root(info_.bpf_root);
  if (info_.kubernetes_status) info_.kubernetes_status(out->mutable_kubernetes());
  if (info_.reconcilers) info_.reconcilers(out);
  if (info_.map_pressure) info_.map_pressure(out);
  return grpc::Status::OK;
}

grpc::Status AgentService::AllocateIp(grpc::ServerContext*, const v1::AllocateIpRequest* in,
                                      v1::AllocateIpResponse* out) {
  if (auto st = requireAttachment(in->attachment()); !st.ok()) return st;
  core::Endpoint req;
  req.key = toKey(in->attachment());
  fillPod(in->pod(), req);
  req.netns = in->netns();
  auto got = endpoints_.allocateIp(req);
  if (!got) return toGrpc(got.status());
  out->set_ip(got->ip.toString());
  out->set_prefix_len(got->cidr.prefix_len);
  out->set_gateway(got->gateway.toString());
  out->set_mtu(got->mtu);
  return grpc::Status::OK;
}

grpc::Status AgentService::CreateEndpoint(grpc::ServerContext*, const v1::CreateEndpointRequest* in,
                                          v1::CreateEndpointResponse* out) {
  if (auto st = requireAttachment(in->attachment()); !st.ok()) return st;
  auto ip = Ipv4Addr::parse(in->ip());
  if (!ip)
    return {grpc::StatusCode::INVALID_ARGUMENT, "ip '" + in->ip() + "' is not an IPv4 address"};
  if (in->host_ifname().empty())
    return {grpc::StatusCode::INVALID_ARGUMENT, "host_ifname is required"};
  core::Endpoint req;
  req.key = toKey(in->attachment());
  fillPod(in->pod(), req);
  req.netns = in->netns();
  req.ip = *ip;
  req.host_ifname = in->host_ifname();
  req.host_ifindex = in->host_ifindex();
  req.host_mac = in->host_mac();
  req.pod_mac = in->pod_mac();
  auto ep = endpoints_.createEndpoint(req);
  if (!ep) return toGrpc(ep.status());
  toProto(*ep, out->mutable_endpoint());
  return grpc::Status::OK;
}

grpc::Status AgentService::DeleteEndpoint(grpc::ServerContext*, const v1::DeleteEndpointRequest* in,
                                          v1::DeleteEndpointResponse* out) {
  if (auto st = requireAttachment(in->attachment()); !st.ok()) return st;
  auto existed = endpoints_.deleteEndpoint(toKey(in->attachment()));
  if (!existed) return toGrpc(existed.status());
  out->set_existed(*existed);
  return grpc::Status::OK;
}

grpc::Status AgentService::GetEndpoint(grpc::ServerContext*, const v1::GetEndpointRequest* in,
                                       v1::Endpoint* out) {
  if (auto st = requireAttachment(in->attachment()); !st.ok()) return st;
  auto ep = endpoints_.get(toKey(in->attachment()));
  if (!ep) return toGrpc(ep.status());
  toProto(*ep, out);
  return grpc::Status::OK;
}

grpc::Status AgentService::ListEndpoints(grpc::ServerContext*, const v1::ListEndpointsRequest*,
                                         v1::ListEndpointsResponse* out) {
  for (const auto& ep : endpoints_.list()) toProto(ep, out->add_endpoints());
  return grpc::Status::OK;
}

grpc::Status AgentService::GarbageCollect(grpc::ServerContext*, const v1::GarbageCollectRequest* in,
                                          v1::GarbageCollectResponse* out) {
  std::vector<core::AttachmentKey> valid;
  for (const auto& ref : in->valid()) valid.push_back(toKey(ref));
  auto released = endpoints_.garbageCollect(valid);
  if (!released) return toGrpc(released.status());
  for (const auto& key : *released) {
    auto* ref = out->add_released();
    ref->set_container_id(key.container_id);
    ref->set_ifname(key.ifname);
  }
  return grpc::Status::OK;
}

grpc::Status AgentService::ListServices(grpc::ServerContext*, const v1::ListServicesRequest*,
                                        v1::ListServicesResponse* out) {
  if (info_.list_services) info_.list_services(out);
  return grpc::Status::OK;
}

}  // namespace petrel::api
