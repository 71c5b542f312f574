// JSON encoding and atomic file persistence of the agent's state.
#include "agent/core/state_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/unique_fd.h"

namespace petrel::core {

using nlohmann::json;

const char* endpointStateName(EndpointState state) {
  switch (state) {
    case EndpointState::kIpAllocated:
      return "ip-allocated";
    case EndpointState::kReady:
      return "ready";
    case EndpointState::kNotReady:
      return "not-ready";
  }
  return "unknown";
}

static EndpointState parseState(const std::string& name) {
  if (name == "ready") return EndpointState::kReady;
  if (name == "ip-allocated") return EndpointState::kIpAllocated;
  return EndpointState::kNotReady;
}

std::string encodeAgentState(const AgentState& state) {
  json eps = json::array();
  for (const auto& ep : state.endpoints) {
    eps.push_back({{"id", ep.id},
                   {"containerId", ep.key.container_id},
                   {"ifname", ep.key.ifname},
                   {"podNamespace", ep.pod_namespace},
                   {"podName", ep.pod_name},
                   {"podUid", ep.pod_uid},
                   {"netns", ep.netns},
                   {"ip", ep.ip.toString()},
                   {"hostIfname", ep.host_ifname},
                   {"hostIfindex", ep.host_ifindex},
                   {"hostMac", ep.host_mac},
                   {"podMac", ep.pod_mac},
                   {"state", endpointStateName(ep.state)}});
  }
  json doc = {{"version", 1},
              {"podCidr", state.pod_cidr},
              {"ipamCursor", state.ipam_cursor},
              {"nextEndpointId", state.next_endpoint_id},
              {"endpoints", eps}};
  return doc.dump(2) + "\n";
}

Result<AgentState> decodeAgentState(const std::string& text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status(Code::kInvalidArgument, "state file is not a JSON object");
  }
  try {
    if (doc.value("version", 0) != 1) {
      return Status(Code::kInvalidArgument, "state file has an unknown version");
    }
    AgentState state;
    state.pod_cidr = doc.at("podCidr").get<std::string>();
    state.ipam_cursor = doc.at("ipamCursor").get<uint64_t>();
    state.next_endpoint_id = doc.at("nextEndpointId").get<uint32_t>();
    for (const auto& e : doc.at("endpoints")) {
      Endpoint ep;
      ep.id = e.at("id").get<uint32_t>();
      ep.key.container_id = e.at("containerId").get<std::string>();
      ep.key.ifname = e.at("ifname").get<std::string>();
      ep.pod_namespace = e.value("podNamespace", "");
      ep.pod_name = e.value("podName", "");
      ep.pod_uid = e.value("podUid", "");
      ep.netns = e.value("netns", "");
      auto ip = Ipv4Addr::parse(e.at("ip").get<std::string>());
      if (!ip) return Status(Code::kInvalidArgument, "state file: endpoint with a bad ip");
      ep.ip = *ip;
      ep.host_ifname = e.value("hostIfname", "");
      ep.host_ifindex = e.value("hostIfindex", 0u);
      ep.host_mac = e.value("hostMac", "");
      ep.pod_mac = e.value("podMac", "");
      ep.state = parseState(e.value("state", ""));
      state.endpoints.push_back(std::move(ep));
    }
    return state;
  } catch (const json::exception& e) {
    return Status(Code::kInvalidArgument, std::string("state file: ") + e.what());
  }
}

Result<AgentState> JsonFileStateStore::load() {
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return Status(Code::kNotFound, "no state file at " + path_);
    return errnoStatus(errno, "open " + path_);
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto state = decodeAgentState(buf.str());
  if (!state) return state.status().withContext(path_);
  return state;
}

Status JsonFileStateStore::save(const AgentState& state) {
  const std::string tmp = path_ + ".tmp";
  const std::string text = encodeAgentState(state);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return errnoStatus(errno, "create " + tmp);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus(errno, "write " + tmp);
    }
    done += static_cast<size_t>(n);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return errnoStatus(errno, "rename " + tmp);
  return Status::ok();
}

}  // namespace petrel::core
