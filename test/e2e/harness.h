// End-to-end test harness: run commands with a deadline, own network namespaces, temp dirs,
// background processes and a petrel-agent instance, and drive the real petrel-cni binary.
// Every object here cleans up what it created when it is destroyed, also when a test fails.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace petrel::e2e {

using namespace std::chrono_literals;
using Millis = std::chrono::milliseconds;

// --- requirements: these FAIL the test (never skip) with a message that says what is missing.

// Use as ASSERT_TRUE(requireRoot()).
::testing::AssertionResult requireRoot();
// A program found on PATH (or an absolute path that is executable).
::testing::AssertionResult requireTool(const std::string& tool);
// A file that must exist, e.g. build/bin/petrel-agent; `hint` says how to get it.
::testing::AssertionResult requireFile(const std::filesystem::path& path, const std::string& hint);
// requireRoot + the Petrel binaries + nsenter/ip: what every namespace test needs.
::testing::AssertionResult requireBasics();

// --- paths

// The directory with petrel-agent, petrel-cni and petrel (PETREL_E2E_BIN_DIR overrides the
// build tree's bin/).
std::filesystem::path binDir();
std::filesystem::path sourceDir();
// "pe2e-<pid>-<n>"; n counts up per process. Short enough for link names when prefix is short.
std::string uniqueName(const std::string& prefix = "pe2e");

// --- running commands

struct CmdResult {
  int exitCode = -1;  // exit status, or 128+signal when killed
  bool timedOut = false;
  std::string out;
  std::string err;
  bool ok() const { return exitCode == 0 && !timedOut; }
  // "exit 1: <stderr>" and the stdout, for assertion messages.
  std::string describe() const;
};

struct RunOptions {
  Millis timeout = 30s;
  std::string input;                       // fed to stdin
  std::map<std::string, std::string> env;  // added to (or replacing in) the environment
  bool clearEnv = false;                   // start from an empty environment (PATH kept)
};

// Runs argv[0] (PATH lookup) in its own process group; on timeout the whole group is killed.
CmdResult run(const std::vector<std::string>& argv, const RunOptions& options = {});
// Runs `/bin/sh -c script`.
CmdResult sh(const std::string& script, const RunOptions& options = {});

// A long-running child (server, traffic generator, agent) in its own process group, with
// stdout+stderr going to a log file. Destruction kills the group and reaps it.
class BackgroundProcess {
 public:
  BackgroundProcess(std::vector<std::string> argv, std::filesystem::path log,
                    std::map<std::string, std::string> env = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `sig` to the process (not its group) and waits up to `timeout` for it to exit;
  // returns the exit status (128+signal when killed) or nullopt if it is still running.
  std::optional<int> signalAndWait(int sig, Millis timeout);
  // Waits for a natural exit.
  std::optional<int> wait(Millis timeout);
  // SIGTERM to the group, then SIGKILL after `grace`.
  void terminate(Millis grace = 5s);
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path log_;
};

// --- RAII resources

// A temporary directory, removed recursively on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "pe2e");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A named network namespace (/run/netns/<name>) with lo up; deleted on destruction.
class Netns {
 public:
  explicit Netns(const std::string& prefix = "pe2e");
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  const std::string& name() const { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  // argv prefixed with `nsenter --net=<path>` (the mount namespace stays shared, so bpffs and
  // /run/netns stay visible, unlike `ip netns exec`).
  std::vector<std::string> wrap(const std::vector<std::string>& argv) const;
  CmdResult exec(const std::vector<std::string>& argv, const RunOptions& options = {}) const;
  CmdResult sh(const std::string& script, const RunOptions& options = {}) const;
  // The IPv4 address (without prefix) on `ifname`, or "" if there is none.
  std::string ipv4(const std::string& ifname) const;
  // Names of all links in the namespace.
  std::vector<std::string> links() const;

 private:
  std::string name_;
};

// --- the Petrel agent

struct AgentOptions {
  std::string podCidr = "10.244.0.0/24";
  unsigned mtu = 1500;
  Millis readyTimeout = 30s;
  std::vector<std::string> extraArgs = {};      // appended to petrel-agent's flags
  std::map<std::string, std::string> env = {};  // added to petrel-agent's environment
};

// Sets `stop` and joins `thread` when it goes out of scope: a test's background client ends
// also when an assertion returns early.
class JoinOnExit {
 public:
  JoinOnExit(std::atomic<bool>& stop, std::thread& thread) : stop_(stop), thread_(thread) {}
  ~JoinOnExit() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  JoinOnExit(const JoinOnExit&) = delete;
  JoinOnExit& operator=(const JoinOnExit&) = delete;

 private:
  std::atomic<bool>& stop_;
  std::thread& thread_;
};

// One petrel-agent running in `node` (via nsenter) with a unique bpf root under /sys/fs/bpf,
// a unique state dir under /tmp and its own socket. Destruction kills it and removes the pin
// dir and the state dir.
class AgentProcess {
 public:
  explicit AgentProcess(const Netns& node, AgentOptions options = {});
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  // Starts the agent and waits until `petrel status` succeeds; the failure says why, with the
  // agent's log.
  ::testing::AssertionResult start();
  // SIGTERM and wait for a clean exit (status 0).
  ::testing::AssertionResult stop();
  // SIGKILL, no cleanup by the agent.
  ::testing::AssertionResult kill9();
  ::testing::AssertionResult restart();
  bool running();

  const std::string& nodeName() const { return nodeName_; }
  const std::string& socket() const { return socket_; }
  const std::string& bpfRoot() const { return bpfRoot_; }
  const std::string& stateDir() const { return stateDir_; }
  const AgentOptions& options() const { return options_; }
  std::string log() const;

  // `petrel <args...> --socket <socket>`.
  CmdResult cli(const std::vector<std::string>& args) const;
  // `petrel endpoint list -o json`, parsed; on error the returned value is null and
  // `error` (if given) holds why.
  nlohmann::json endpoints(std::string* error = nullptr) const;
  // `petrel bpf endpoint list -o json --bpf-root <root>`: the pinned endpoint map, read
  // without the agent (works while it is down). Null on error, with `error` set.
  nlohmann::json bpfEndpoints(std::string* error = nullptr) const;

 private:
  const Netns& node_;
  AgentOptions options_;
  std::string nodeName_;
  std::string socket_;
  std::string bpfRoot_;
  std::string stateDir_;
  std::filesystem::path logPath_;
  std::unique_ptr<BackgroundProcess> proc_;
  int starts_ = 0;
};

// --- the Petrel CNI plugin

// The network config petrel-cni reads for `agent` (cniVersion 1.0.0, name "petrel").
nlohmann::json petrelCniConfig(const AgentProcess& agent, const std::string& cniVersion = "1.0.0");

struct CniCall {
  std::string command;      // ADD, DEL, CHECK, STATUS, GC, VERSION
  std::string containerId;  // CNI_CONTAINERID
  std::string netnsPath;    // CNI_NETNS
  std::string ifname = "eth0";
  nlohmann::json config;  // stdin; petrelCniConfig(agent) when null
  std::string args;       // CNI_ARGS
};

// Runs petrel-cni inside `node` (nsenter) with CNI_* env and the config on stdin.
CmdResult runCni(const Netns& node, const AgentProcess& agent, const CniCall& call);

// A pod wired by petrel-cni: its own netns, ADD on creation, DEL + netns removal on
// destruction. `added()` says whether ADD succeeded; `result()` is the parsed CNI result.
class CniPod {
 public:
  CniPod(const Netns& node, const AgentProcess& agent, const std::string& prefix = "pe2ep");
  ~CniPod();
  CniPod(const CniPod&) = delete;
  CniPod& operator=(const CniPod&) = delete;

  ::testing::AssertionResult add();
  ::testing::AssertionResult del();
  // Runs petrel-cni `command` (ADD, DEL, CHECK) for this pod and returns the raw result.
  CmdResult call(const std::string& command) const;
  bool added() const { return added_; }
  const nlohmann::json& result() const { return result_; }
  const std::string& containerId() const { return containerId_; }
  const Netns& netns() const { return netns_; }
  // The pod's IPv4 address from the CNI result (no prefix).
  std::string ip() const;
  // The host-side interface the result names (the one without a sandbox), or "".
  std::string hostIfname() const;

 private:
  const Netns& node_;
  const AgentProcess& agent_;
  Netns netns_;
  std::string containerId_;
  nlohmann::json result_;
  bool added_ = false;
};

// --- small helpers

// Polls `probe` every `interval` until it returns true or `timeout` passes.
bool waitUntil(const std::function<bool()>& probe, Millis timeout, Millis interval = 100ms);
// Strips "/NN" from "10.0.0.2/24".
std::string stripPrefix(const std::string& cidr);
// A free-ish TCP port in [20000, 40000) derived from the pid and a counter.
uint16_t uniquePort();
// The [containers] and [engine] tables of a private containers.conf (CONTAINERS_CONF) that podman
// 4.3 runs containers with on these hosts: runc (crun refuses a mixed cgroup v1/v2 layout),
// cgroupfs, file events and default_ulimits the session can grant. Tests append their [network].
std::string podmanEngineConf();

}  // namespace petrel::e2e
