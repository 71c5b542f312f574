// The node installer mode of petrel-cni: `petrel-cni install` copies this executable into the
// host's CNI binary directory and writes Petrel's conflist into its network configuration
// directory (each atomically); `petrel-cni uninstall` removes both. The agent DaemonSet's
// install-cni init container runs `install`. Runtimes never pass arguments (they set
// CNI_COMMAND), so main() comes here only for a call with arguments and no CNI_COMMAND.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"

namespace petrel::cni {

inline constexpr const char* kDefaultConfName = "10-petrel.conflist";
inline constexpr const char* kPluginBinary = "petrel-cni";

struct InstallOptions {
  std::string bin_dir;       // the host's CNI binary directory (e.g. /opt/cni/bin)
  std::string conf_dir;      // the host's CNI configuration directory (e.g. /etc/cni/net.d)
  std::string agent_socket;  // absolute path of the agent's API socket on the host
  std::string conf_name = kDefaultConfName;
  bool chain_portmap = false;               // append the reference portmap plugin (hostPort)
  std::string log_file;                     // "": no logFile key (warnings go to stderr only)
  std::string self_exe = "/proc/self/exe";  // the binary copied; tests pass another file
};

struct UninstallOptions {
  std::string bin_dir;
  std::string conf_dir;
  std::string conf_name = kDefaultConfName;
};

// The conflist `install` writes: cniVersion 1.0.0, name "petrel", the petrel-cni plugin with
// agentSocket (and logFile), then portmap when chained. Indented JSON ending in a newline.
std::string conflistText(const InstallOptions& opt);

// Copies opt.self_exe to <bin_dir>/petrel-cni (mode 0755) and writes <conf_dir>/<conf_name>
// (mode 0644), each through a temp file in the same directory and a rename; a file that already
// has the right content and mode is left as it is. Returns one line per file saying what was
// done, or an error naming the path and what to do.
Result<std::vector<std::string>> install(const InstallOptions& opt);

// Removes <conf_dir>/<conf_name>, then <bin_dir>/petrel-cni; a file that is not there is not an
// error. Returns one line per file saying what was done.
Result<std::vector<std::string>> uninstall(const UninstallOptions& opt);

// The command line: argv[1] is `install` or `uninstall` (see --help); `install` copies
// `self_exe`. Prints what was done to `out` and errors to `err`; returns 0 on success, 1 on any
// error (bad arguments included).
int runNodeInstaller(int argc, char** argv, std::ostream& out, std::ostream& err,
                     const std::string& self_exe = "/proc/self/exe");

}  // namespace petrel::cni
