// FakeAgent: a real gRPC server implementing petrel.api.v1.Agent on a unix socket, with an
// in-memory IPAM and endpoint table, for testing petrel-cni without the real agent. It records
// every released IP and can be told to fail or to run a hook inside CreateEndpoint.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "agent.grpc.pb.h"
#include "common/ip.h"
#include "common/status.h"

namespace petrel::cni::testing {

namespace apiv1 = ::petrel::api::v1;

class FakeAgent final : public apiv1::Agent::Service {
 public:
  struct Options {
    std::string pod_cidr = "10.244.0.0/24";  // gateway is the first host address
    uint32_t mtu = 1500;
    bool ready = true;
  };
  using Key = std::pair<std::string, std::string>;  // container id, ifname

  FakeAgent() : FakeAgent(Options{}) {}
  explicit FakeAgent(Options options);
  ~FakeAgent() override;

  // Serves on unix:<socket_path> (an old socket file is removed first).
  ::petrel::Status start(const std::string& socket_path);
  void stop();
  void wait();  // blocks until stop() from another thread

  // Runs inside CreateEndpoint before it records anything; a non-OK status is returned to the
  // client as is.
  void setCreateEndpointHook(std::function<grpc::Status(const apiv1::CreateEndpointRequest&)> h);
  // Makes AllocateIp fail with `status` (OK restores normal behaviour).
  void setAllocateIpError(grpc::Status status);
  void setReady(bool ready);
  // Called (outside the lock) after every state change.
  void setOnChange(std::function<void()> on_change);

  std::map<Key, std::string> allocations() const;
  std::map<Key, apiv1::Endpoint> endpoints() const;
  std::vector<std::string> releasedIps() const;
  int callCount(const std::string& rpc) const;
  // {"allocations":[{containerID,ifname,ip}], "endpoints":[...], "released":[ip...],
  //  "calls":{rpc:n}}
  nlohmann::json stateJson() const;

  grpc::Status Status(grpc::ServerContext*, const apiv1::StatusRequest*,
                      apiv1::StatusResponse* resp) override;
  grpc::Status AllocateIp(grpc::ServerContext*, const apiv1::AllocateIpRequest* req,
                          apiv1::AllocateIpResponse* resp) override;
  grpc::Status CreateEndpoint(grpc::ServerContext*, const apiv1::CreateEndpointRequest* req,
                              apiv1::CreateEndpointResponse* resp) override;
  grpc::Status DeleteEndpoint(grpc::ServerContext*, const apiv1::DeleteEndpointRequest* req,
                              apiv1::DeleteEndpointResponse* resp) override;
  grpc::Status GetEndpoint(grpc::ServerContext*, const apiv1::GetEndpointRequest* req,
                           apiv1::Endpoint* resp) override;
  grpc::Status ListEndpoints(grpc::ServerContext*, const apiv1::ListEndpointsRequest*,
                             apiv1::ListEndpointsResponse* resp) override;
  grpc::Status GarbageCollect(grpc::ServerContext*, const apiv1::GarbageCollectRequest* req,
                              apiv1::GarbageCollectResponse* resp) override;

 private:
  void changed();
  // Releases the attachment's IP and endpoint; returns whether anything existed. Lock held.
  bool releaseLocked(const Key& key);

  Options options_;
  Ipv4Cidr cidr_;
  std::unique_ptr<grpc::Server> server_;
  mutable std::mutex mu_;
  std::map<Key, std::string> allocations_;
  std::map<Key, apiv1::Endpoint> endpoints_;
  std::vector<std::string> released_;
  std::map<std::string, int> calls_;
  uint32_t next_endpoint_id_ = 1;
  grpc::Status allocate_error_;
  std::function<grpc::Status(const apiv1::CreateEndpointRequest&)> create_hook_;
  std::function<void()> on_change_;
};

}  // namespace petrel::cni::testing
