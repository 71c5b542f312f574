// Child processes for the sandbox tools: run a command to completion with input, a deadline and
// captured output (CNI plugins, iproute2), or start one detached with its output in a log file
// (daemons, pod containers), optionally inside a network namespace, a cgroup and a mount namespace
// of its own with bind mounts (a container's volumes). Pids are paired with their start time so a
// recycled pid is never mistaken for ours.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace petrel::sandbox {

// `source` (a host file or directory) appears at `target` in the process's own mount namespace.
struct BindMount {
  std::string source;
  std::string target;
  bool read_only = false;
};

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH
  std::vector<std::string> env;   // "KEY=VALUE"; empty means inherit ours
  std::string netns_path;         // setns() into it before exec when set
  std::string cgroup_dir;         // the child moves itself into this cgroup v2 before exec when set
  std::string working_dir;        // chdir() before exec when set
  // When set, the child unshares its mount namespace (made rslave: nothing propagates back to the
  // host, the host's new mounts under its shared ones come in) and bind-mounts these in order. A
  // missing mount point is created on the host first (an empty directory, or an empty file for a
  // file source) and stays there.
  std::vector<BindMount> mounts;
  std::string mountns_path;  // setns() into this mount namespace (/proc/<pid>/ns/mnt) when set
  std::string input;         // run(): fed to stdin
  std::string log_path;      // start(): stdout and stderr appended here (else /dev/null)
  std::chrono::milliseconds timeout{30000};  // run(): killed after this
};

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128 + signal
  bool timed_out = false;
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0 && !timed_out; }
};

// Runs to completion. An error only when the process could not be started.
Result<ProcessResult> runProcess(const ProcessSpec& spec);

// "cmd arg..." fails with the command line, exit code and stderr in the message.
Status runChecked(const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Starts in a new session (its own process group), stdin from /dev/null. Returns the pid; the
// caller reaps it (or it is reparented when the caller exits).
Result<pid_t> startProcess(const ProcessSpec& spec);

// Field 22 of /proc/<pid>/stat; 0 when the process does not exist.
uint64_t processStartTime(pid_t pid);

// The process `pid` exists and still is the one that started at `start_time`.
bool processAlive(pid_t pid, uint64_t start_time);

// Sends `sig` to the process group of `pid` (and to pid itself).
void signalGroup(pid_t pid, int sig);

// The inode of a network namespace file (/run/netns/x or /proc/<pid>/ns/net); 0 if unreadable.
uint64_t netnsInode(const std::string& path);

// The directory of the running executable (for finding sibling binaries).
std::string selfDir();

}  // namespace petrel::sandbox
