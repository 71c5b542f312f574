// AgentClient: petrel-cni's gRPC client for the node's petrel-agent (unix socket). Every call has
// a short deadline, and failures come back as CniErrors with the CNI code the runtime should see
// (11 when the agent cannot be reached, so the runtime retries).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent.grpc.pb.h"
#include "cni-plugin/cni_error.h"
#include "cni-plugin/config.h"

namespace petrel::cni {

namespace apiv1 = ::petrel::api::v1;

class AgentClient {
 public:
  explicit AgentClient(std::string socket_path,
                       std::chrono::milliseconds deadline = std::chrono::seconds(2));

  // Idempotent on the agent for the same attachment.
  CniResult<apiv1::AllocateIpResponse> allocateIp(const apiv1::AllocateIpRequest& req);
  CniResult<apiv1::Endpoint> createEndpoint(const apiv1::CreateEndpointRequest& req);
  // Returns whether the endpoint existed; releasing the IP is part of it.
  CniResult<bool> deleteEndpoint(const Attachment& attachment);
  // nullopt when the agent does not know the attachment.
  CniResult<std::optional<apiv1::Endpoint>> getEndpoint(const Attachment& attachment);
  CniResult<apiv1::StatusResponse> status();
  // Returns the attachments the agent released.
  CniResult<std::vector<Attachment>> garbageCollect(const std::vector<Attachment>& valid);

  const std::string& socketPath() const { return socket_path_; }
  // True when the last call failed before reaching the agent (nothing can have happened there).
  bool lastCallUnreachable() const { return last_unreachable_; }

 private:
  std::unique_ptr<grpc::ClientContext> context() const;
  CniError toCniError(const grpc::Status& status, const char* rpc) const;

  std::string socket_path_;
  std::chrono::milliseconds deadline_;
  std::unique_ptr<apiv1::Agent::Stub> stub_;
  mutable bool last_unreachable_ = false;
};

// Why a unix socket cannot be connected, e.g. "connection refused" or "no such file or
// directory"; empty when a plain connect() succeeds.
std::string diagnoseUnixSocket(const std::string& path);

}  // namespace petrel::cni
