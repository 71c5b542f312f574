// Plugin: petrel-cni's command dispatch. run() takes the environment and stdin and returns what
// main() prints and the exit code, so every command is testable in-process.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "cni-plugin/agent_client.h"
#include "cni-plugin/config.h"
#include "cni-plugin/pod_network.h"

namespace petrel::cni {

struct Outcome {
  int exit_code = 0;
  std::string output;  // stdout: a result, an error object, or empty
};

class Plugin {
 public:
  // `network` is borrowed for the duration of run().
  explicit Plugin(PodNetwork& network,
                  std::chrono::milliseconds rpc_deadline = std::chrono::seconds(2))
      : network_(network), rpc_deadline_(rpc_deadline) {}

  Outcome run(const GetEnv& getenv_fn, std::string_view stdin_text);

 private:
  Outcome add(const CniEnv& env, const NetConf& conf);
  Outcome del(const CniEnv& env, const NetConf& conf);
  Outcome check(const CniEnv& env, const NetConf& conf);
  Outcome status(const NetConf& conf);
  Outcome gc(const NetConf& conf);
  Outcome fail(const CniError& error, const std::string& version);
  // Best-effort release of everything ADD took; logs what it cannot undo.
  void rollback(AgentClient& agent, const Attachment& attachment, const std::string& host_ifname);
  void setUpLogging(const NetConf& conf);

  PodNetwork& network_;
  std::chrono::milliseconds rpc_deadline_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace petrel::cni
