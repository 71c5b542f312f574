// The node cleanup's order and its file removals; see node_cleanup.h.
#include "agent/daemon/node_cleanup.h"

#include <filesystem>

#include <fmt/format.h>

namespace petrel::agent {

namespace fs = std::filesystem;

namespace {

// Removes `path` when it exists; `what` names it in the report.
void removeFile(const fs::path& path, const std::string& what, datapath::CleanupReport& report) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return;
  if (fs::remove(path, ec); ec) {
    report.failed(fmt::format("remove {} {}: {}", what, path.string(), ec.message()));
  } else {
    report.removed(fmt::format("{} {}", what, path.string()));
  }
}

void removeStateFiles(const CleanupOptions& o, datapath::CleanupReport& report) {
  if (!o.socket.empty()) removeFile(o.socket, "API socket", report);
  if (o.state_dir.empty()) return;
  const fs::path dir = o.state_dir;
  removeFile(dir / "state.json", "endpoint state", report);
  removeFile(dir / "state.json.tmp", "endpoint state (partly written)", report);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  if (fs::is_empty(dir, ec)) {
    removeFile(dir, "state directory", report);
  } else {
    report.kept(fmt::format("{}: it holds files that are not the agent's", dir.string()));
  }
}

}  // namespace

CleanupOptions cleanupOptionsFor(const Options& opt) {
  CleanupOptions o;
  o.bpf_root = opt.bpf_root;
  o.state_dir = opt.state_dir;
  o.socket = opt.socket;
  o.cni_conf_dir = opt.cni_conf_dir;
  o.cni_bin_dir = opt.cni_bin_dir;
  o.cni_conf_name = opt.cni_conf_name;
  return o;
}

void cleanupNode(const CleanupOptions& o, datapath::CleanupReport& report) {
  if (!o.cni_conf_dir.empty()) {
    removeFile(fs::path(o.cni_conf_dir) / o.cni_conf_name, "CNI config", report);
  }
  datapath::detachPetrelPrograms(report);
  datapath::removeTunnelRoutes(o.bpf_root, report);
  datapath::removePetrelDevices(report);
  datapath::removePins(o.bpf_root, report);
  datapath::unmountOwnCgroup(report);
  removeStateFiles(o, report);
  if (!o.cni_bin_dir.empty()) {
    removeFile(fs::path(o.cni_bin_dir) / kCniBinaryName, "CNI plugin", report);
  }
}

}  // namespace petrel::agent
