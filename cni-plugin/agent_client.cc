// AgentClient: deadlines, request building and gRPC status -> CNI error mapping.
#include "cni-plugin/agent_client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cctype>
#include <cstring>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include "common/unique_fd.h"

namespace petrel::cni {

namespace {
void fillRef(const Attachment& a, apiv1::AttachmentRef* ref) {
  ref->set_container_id(a.container_id);
  ref->set_ifname(a.ifname);
}
}  // namespace

std::string diagnoseUnixSocket(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return "socket path is too long";
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return std::strerror(errno);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return "";
  std::string text = std::strerror(errno);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(text[0]));
  return text;
}

AgentClient::AgentClient(std::string socket_path, std::chrono::milliseconds deadline)
    : socket_path_(std::move(socket_path)), deadline_(deadline) {
  auto channel = grpc::CreateChannel("unix:" + socket_path_, grpc::InsecureChannelCredentials());
  stub_ = apiv1::Agent::NewStub(channel);
}

std::unique_ptr<grpc::ClientContext> AgentClient::context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + deadline_);
  return ctx;
}

CniError AgentClient::toCniError(const grpc::Status& status, const char* rpc) const {
  const std::string hint =
      "; is the agent running? (systemctl status petrel-agent / petrel status)";
  last_unreachable_ = false;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: {
      std::string why = diagnoseUnixSocket(socket_path_);
      last_unreachable_ = !why.empty();
      if (why.empty()) why = status.error_message();
      return CniError{kErrTryAgainLater,
                      fmt::format("cannot reach petrel-agent at {}: {}{}", socket_path_, why, hint),
                      status.error_message()};
    }
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return CniError{kErrTryAgainLater,
                      fmt::format("petrel-agent at {} did not answer {} within {} ms{}",
                                  socket_path_, rpc, deadline_.count(), hint),
                      status.error_message()};
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return CniError{kErrTryAgainLater,
                      fmt::format("petrel-agent cannot serve {} now: {}; free addresses or wait",
                                  rpc, status.error_message()),
                      ""};
    default:
      return CniError{kErrInternal,
                      fmt::format("petrel-agent {} failed: {}; see the agent's log", rpc,
                                  status.error_message()),
                      fmt::format("grpc code {}", static_cast<int>(status.error_code()))};
  }
}

CniResult<apiv1::AllocateIpResponse> AgentClient::allocateIp(const apiv1::AllocateIpRequest& req) {
  apiv1::AllocateIpResponse resp;
  auto ctx = context();
  grpc::Status s = stub_->AllocateIp(ctx.get(), req, &resp);
  if (!s.ok()) return toCniError(s, "AllocateIp");
  return resp;
}

CniResult<apiv1::Endpoint> AgentClient::createEndpoint(const apiv1::CreateEndpointRequest& req) {
  apiv1::CreateEndpointResponse resp;
  auto ctx = context();
  grpc::Status s = stub_->CreateEndpoint(ctx.get(), req, &resp);
  if (!s.ok()) return toCniError(s, "CreateEndpoint");
  return resp.endpoint();
}

CniResult<bool> AgentClient::deleteEndpoint(const Attachment& attachment) {
  apiv1::DeleteEndpointRequest req;
  fillRef(attachment, req.mutable_attachment());
  apiv1::DeleteEndpointResponse resp;
  auto ctx = context();
  grpc::Status s = stub_->DeleteEndpoint(ctx.get(), req, &resp);
  if (!s.ok()) return toCniError(s, "DeleteEndpoint");
  return resp.existed();
}

CniResult<std::optional<apiv1::Endpoint>> AgentClient::getEndpoint(const Attachment& attachment) {
  apiv1::GetEndpointRequest req;
  fillRef(attachment, req.mutable_attachment());
  apiv1::Endpoint resp;
  auto ctx = context();
  grpc::Status s = stub_->GetEndpoint(ctx.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return std::optional<apiv1::Endpoint>();
  if (!s.ok()) return toCniError(s, "GetEndpoint");
  return std::optional<apiv1::Endpoint>(std::move(resp));
}

CniResult<apiv1::StatusResponse> AgentClient::status() {
  apiv1::StatusResponse resp;
  auto ctx = context();
  grpc::Status s = stub_->Status(ctx.get(), apiv1::StatusRequest(), &resp);
  if (!s.ok()) return toCniError(s, "Status");
  return resp;
}

CniResult<std::vector<Attachment>> AgentClient::garbageCollect(
    const std::vector<Attachment>& valid) {
  apiv1::GarbageCollectRequest req;
  for (const Attachment& a : valid) fillRef(a, req.add_valid());
  apiv1::GarbageCollectResponse resp;
  auto ctx = context();
  grpc::Status s = stub_->GarbageCollect(ctx.get(), req, &resp);
  if (!s.ok()) return toCniError(s, "GarbageCollect");
  std::vector<Attachment> released;
  for (const auto& r : resp.released()) released.push_back({r.container_id(), r.ifname()});
  return released;
}

}  // namespace petrel::cni
