// FakeAgent: in-memory Agent service for tests.
#include "cni-plugin/testing/fake_agent.h"

#include <unistd.h>

#include <fmt/format.h>

namespace petrel::cni::testing {

namespace {
FakeAgent::Key keyOf(const apiv1::AttachmentRef& ref) {
  return {ref.container_id(), ref.ifname()};
}
}  // namespace

FakeAgent::FakeAgent(Options options) : options_(std::move(options)) {
  auto cidr = Ipv4Cidr::parse(options_.pod_cidr);
  cidr_ = cidr.value_or(*Ipv4Cidr::parse("10.244.0.0/24"));
}

FakeAgent::~FakeAgent() {
  stop();
}

::petrel::Status FakeAgent::start(const std::string& socket_path) {
  ::unlink(socket_path.c_str());
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  if (!server_) {
    return makeError(Code::kUnavailable, "fake agent cannot listen on unix:{}", socket_path);
  }
  return ::petrel::Status::ok();
}

void FakeAgent::stop() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
    server_.reset();
  }
}

void FakeAgent::wait() {
  if (server_) server_->Wait();
}

void FakeAgent::setCreateEndpointHook(
    std::function<grpc::Status(const apiv1::CreateEndpointRequest&)> h) {
  std::lock_guard lock(mu_);
  create_hook_ = std::move(h);
}

void FakeAgent::setAllocateIpError(grpc::Status status) {
  std::lock_guard lock(mu_);
  allocate_error_ = std::move(status);
}

void FakeAgent::setReady(bool ready) {
  std::lock_guard lock(mu_);
  options_.ready = ready;
}

void FakeAgent::setOnChange(std::function<void()> on_change) {
  std::lock_guard lock(mu_);
  on_change_ = std::move(on_change);
}

void FakeAgent::changed() {
  std::function<void()> cb;
  {
    std::lock_guard lock(mu_);
    cb = on_change_;
  }
  if (cb) cb();
}

std::map<FakeAgent::Key, std::string> FakeAgent::allocations() const {
  std::lock_guard lock(mu_);
  return allocations_;
}

std::map<FakeAgent::Key, apiv1::Endpoint> FakeAgent::endpoints() const {
  std::lock_guard lock(mu_);
  return endpoints_;
}

std::vector<std::string> FakeAgent::releasedIps() const {
  std::lock_guard lock(mu_);
  return released_;
}

int FakeAgent::callCount(const std::string& rpc) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(rpc);
  return it == calls_.end() ? 0 : it->second;
}

nlohmann::json FakeAgent::stateJson() const {
  std::lock_guard lock(mu_);
  nlohmann::json allocs = nlohmann::json::array();
  for (const auto& [key, ip] : allocations_) {
    allocs.push_back({{"containerID", key.first}, {"ifname", key.second}, {"ip", ip}});
  }
  nlohmann::json eps = nlohmann::json::array();
  for (const auto& [key, ep] : endpoints_) {
    eps.push_back({{"containerID", key.first},
                   {"ifname", key.second},
                   {"ip", ep.ip()},
                   {"hostIfname", ep.host_ifname()},
                   {"hostIfindex", ep.host_ifindex()},
                   {"hostMac", ep.host_mac()},
                   {"podMac", ep.pod_mac()},
                   {"netns", ep.netns()}});
  }
  return {{"allocations", allocs}, {"endpoints", eps}, {"released", released_}, {"calls", calls_}};
}

bool FakeAgent::releaseLocked(const Key& key) {
  bool existed = endpoints_.erase(key) > 0;
  if (auto it = allocations_.find(key); it != allocations_.end()) {
    released_.push_back(it->second);
    allocations_.erase(it);
    existed = true;
  }
  return existed;
}

grpc::Status FakeAgent::Status(grpc::ServerContext*, const apiv1::StatusRequest*,
                               apiv1::StatusResponse* resp) {
  std::lock_guard lock(mu_);
  ++calls_["Status"];
  resp->set_ready(options_.ready);
  resp->set_message(options_.ready ? "ok" : "fake agent set not ready");
  resp->set_version("fake");
  resp->set_pod_cidr(cidr_.toString());
  resp->set_endpoints(static_cast<uint32_t>(endpoints_.size()));
  resp->set_ips_allocated(static_cast<uint32_t>(allocations_.size()));
  return grpc::Status::OK;
}

grpc::Status FakeAgent::AllocateIp(grpc::ServerContext*, const apiv1::AllocateIpRequest* req,
                                   apiv1::AllocateIpResponse* resp) {
  {
    std::lock_guard lock(mu_);
    ++calls_["AllocateIp"];
    if (!allocate_error_.ok()) return allocate_error_;
    Key key = keyOf(req->attachment());
    auto it = allocations_.find(key);
    if (it == allocations_.end()) {  // idempotent: the same attachment keeps its address
      std::string ip;
      for (uint64_t off = 2; off + 1 < cidr_.size() && ip.empty(); ++off) {
        std::string candidate = cidr_.at(off).toString();
        bool used = false;
        for (const auto& [k, v] : allocations_) used |= v == candidate;
        if (!used) ip = candidate;
      }
      if (ip.empty()) {
        return {grpc::StatusCode::RESOURCE_EXHAUSTED, "pod CIDR " + cidr_.toString() + " is full"};
      }
      it = allocations_.emplace(key, ip).first;
    }
    resp->set_ip(it->second);
    resp->set_prefix_len(cidr_.prefix_len);
    resp->set_gateway(cidr_.at(1).toString());
    resp->set_mtu(options_.mtu);
  }
  changed();
  return grpc::Status::OK;
}

grpc::Status FakeAgent::CreateEndpoint(grpc::ServerContext*,
                                       const apiv1::CreateEndpointRequest* req,
                                       apiv1::CreateEndpointResponse* resp) {
  std::function<grpc::Status(const apiv1::CreateEndpointRequest&)> hook;
  {
    std::lock_guard lock(mu_);
    ++calls_["CreateEndpoint"];
    hook = create_hook_;
  }
  if (hook) {
    grpc::Status s = hook(*req);
    if (!s.ok()) return s;
  }
  {
    std::lock_guard lock(mu_);
    Key key = keyOf(req->attachment());
    auto alloc = allocations_.find(key);
    if (alloc == allocations_.end() || alloc->second != req->ip()) {
      return {grpc::StatusCode::FAILED_PRECONDITION,
              fmt::format("no allocation of {} for {}/{}", req->ip(), key.first, key.second)};
    }
    apiv1::Endpoint& ep = endpoints_[key];
    if (ep.id() == 0) ep.set_id(next_endpoint_id_++);
    *ep.mutable_attachment() = req->attachment();
    *ep.mutable_pod() = req->pod();
    ep.set_netns(req->netns());
    ep.set_ip(req->ip());
    ep.set_host_ifname(req->host_ifname());
    ep.set_host_ifindex(req->host_ifindex());
    ep.set_host_mac(req->host_mac());
    ep.set_pod_mac(req->pod_mac());
    ep.set_state("ready");
    *resp->mutable_endpoint() = ep;
  }
  changed();
  return grpc::Status::OK;
}

grpc::Status FakeAgent::DeleteEndpoint(grpc::ServerContext*,
                                       const apiv1::DeleteEndpointRequest* req,
                                       apiv1::DeleteEndpointResponse* resp) {
  {
    std::lock_guard lock(mu_);
    ++calls_["DeleteEndpoint"];
    resp->set_existed(releaseLocked(keyOf(req->attachment())));
  }
  changed();
  return grpc::Status::OK;
}

grpc::Status FakeAgent::GetEndpoint(grpc::ServerContext*, const apiv1::GetEndpointRequest* req,
                                    apiv1::Endpoint* resp) {
  std::lock_guard lock(mu_);
  ++calls_["GetEndpoint"];
  auto it = endpoints_.find(keyOf(req->attachment()));
  if (it == endpoints_.end()) return {grpc::StatusCode::NOT_FOUND, "no such endpoint"};
  *resp = it->second;
  return grpc::Status::OK;
}

grpc::Status FakeAgent::ListEndpoints(grpc::ServerContext*, const apiv1::ListEndpointsRequest*,
                                      apiv1::ListEndpointsResponse* resp) {
  std::lock_guard lock(mu_);
  ++calls_["ListEndpoints"];
  for (const auto& [key, ep] : endpoints_) *resp->add_endpoints() = ep;
  return grpc::Status::OK;
}

grpc::Status FakeAgent::GarbageCollect(grpc::ServerContext*,
                                       const apiv1::GarbageCollectRequest* req,
                                       apiv1::GarbageCollectResponse* resp) {
  {
    std::lock_guard lock(mu_);
    ++calls_["GarbageCollect"];
    std::vector<Key> valid;
    for (const auto& ref : req->valid()) valid.push_back(keyOf(ref));
    std::vector<Key> stale;
    for (const auto& [key, ip] : allocations_) {
      if (std::find(valid.begin(), valid.end(), key) == valid.end()) stale.push_back(key);
    }
    for (const auto& [key, ep] : endpoints_) {
      bool listed = std::find(valid.begin(), valid.end(), key) != valid.end();
      if (!listed && std::find(stale.begin(), stale.end(), key) == stale.end()) {
        stale.push_back(key);
      }
    }
    for (const Key& key : stale) {
      releaseLocked(key);
      auto* ref = resp->add_released();
      ref->set_container_id(key.first);
      ref->set_ifname(key.second);
    }
  }
  changed();
  return grpc::Status::OK;
}

}  // namespace petrel::cni::testing
