// AgentService: the gRPC Agent service (api/agent.proto), a thin adapter between protobuf
// messages and core::EndpointManager. Status codes map to real gRPC codes.
#pragma once

#include <functional>
#include <string>

#include "agent.grpc.pb.h"
#include "agent/core/endpoint_manager.h"

namespace petrel::api {

grpc::Status toGrpc(const Status& status);

struct AgentInfo {
  std::string node_name;
  std::string bpf_root;
  // Fills the Kubernetes part of Status; unset in standalone mode.
  std::function<void(v1::KubernetesStatus*)> kubernetes_status;
  // Fills the Service frontends the datapath holds; unset: none.
  std::function<void(v1::ListServicesResponse*)> list_services;
  // Fills the reconcilers' status; unset: none.
  std::function<void(v1::StatusResponse*)> reconcilers;
  // Fills the maps' pressure (maps, maps_error) of Status; unset: none.
  std::function<void(v1::StatusResponse*)> map_pressure;
};

class AgentService final : public v1::Agent::Service {
 public:
  AgentService(core::EndpointManager& endpoints, AgentInfo info)
      : endpoints_(endpoints), info_(std::move(info)) {}

  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*,
                      v1::StatusResponse* out) override;
  grpc::Status AllocateIp(grpc::ServerContext*, const v1::AllocateIpRequest* in,
                          v1::AllocateIpResponse* out) override;
  grpc::Status CreateEndpoint(grpc::ServerContext*, const v1::CreateEndpointRequest* in,
                              v1::CreateEndpointResponse* out) override;
  grpc::Status DeleteEndpoint(grpc::ServerContext*, const v1::DeleteEndpointRequest* in,
                              v1::DeleteEndpointResponse* out) override;
  grpc::Status GetEndpoint(grpc::ServerContext*, const v1::GetEndpointRequest* in,
                           v1::Endpoint* out) override;
  grpc::Status ListEndpoints(grpc::ServerContext*, const v1::ListEndpointsRequest*,
                             v1::ListEndpointsResponse* out) override;
  grpc::Status GarbageCollect(grpc::ServerContext*, const v1::GarbageCollectRequest* in,
                              v1::GarbageCollectResponse* out) override;
  grpc::Status ListServices(grpc::ServerContext*, const v1::ListServicesRequest*,
                            v1::ListServicesResponse* out) override;

 private:
  core::EndpointManager& endpoints_;
  AgentInfo info_;
};

}  // namespace petrel::api
