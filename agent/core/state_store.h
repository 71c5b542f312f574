// StateStore: durable agent state (IPAM cursor, endpoint records) so a restarted agent, also
// after kill -9, knows every address it handed out. JsonFileStateStore writes atomically (temp
// file, rename). It does not fsync: the page cache outlives a killed process, and a node that
// loses power also loses its pods (the default state dir is on tmpfs), while an fsync on the
// CNI ADD path costs milliseconds per pod.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/core/endpoint.h"
#include "common/status.h"

namespace petrel::core {

struct AgentState {
  std::string pod_cidr;
  uint64_t ipam_cursor = 2;
  uint32_t next_endpoint_id = 1;
  std::vector<Endpoint> endpoints;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  // NOT_FOUND when nothing was saved yet.
  virtual Result<AgentState> load() = 0;
  virtual Status save(const AgentState& state) = 0;
};

class JsonFileStateStore : public StateStore {
 public:
  explicit JsonFileStateStore(std::string path) : path_(std::move(path)) {}
  Result<AgentState> load() override;
  Status save(const AgentState& state) override;

 private:
  std::string path_;
};

// Exposed for tests and the fuzz target: decode/encode of the state document.
Result<AgentState> decodeAgentState(const std::string& text);
std::string encodeAgentState(const AgentState& state);

}  // namespace petrel::core
