// Removing what the agent put into this node's network namespace and bpffs, for an uninstall
// (`petrel-agent cleanup`, or the agent itself when its DaemonSet is gone): Petrel's tc filters
// and XDP programs on every link, the socket LB's cgroup links, the routes recorded in the tunnel
// map, the overlay and host devices, and the pins. Only what can be told to be Petrel's is
// touched: programs by their name, pins by theirs. Every step is idempotent, reports each thing
// it removed and goes on after a failure.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::datapath {

// What a cleanup removed and what it failed to, one line each, also passed to `sink` as it goes.
class CleanupReport {
 public:
  using Sink = std::function<void(bool failure, std::string_view line)>;
  explicit CleanupReport(Sink sink = nullptr) : sink_(std::move(sink)) {}

  void removed(std::string what);
  void failed(std::string what);
  // Something deliberately left in place: a line for the sink, neither removed nor a failure.
  void kept(const std::string& what);
  const std::vector<std::string>& removedItems() const { return removed_; }
  const std::vector<std::string>& failures() const { return failures_; }
  bool ok() const { return failures_.empty(); }
  // "removed 7 things, 0 failures".
  std::string summary() const;

 private:
  Sink sink_;
  std::vector<std::string> removed_;
  std::vector<std::string> failures_;
};

// Detaches, on every link of this namespace, the tc filters (ingress and egress, at the handle and
// priority attachTc uses) and the XDP programs (driver or generic mode) that run a Petrel program.
// The clsact qdisc stays: attachTc creates it only when missing and does not record whether it
// did, so Petrel cannot tell its own from one other software relies on; an empty clsact is
// harmless.
void detachPetrelPrograms(CleanupReport& report);

// Deletes the kernel routes to the pod CIDRs the pinned tunnel map under `pin_root` records
// (native routing goes via the underlay device; tunnel mode's go with the overlay device).
void removeTunnelRoutes(const std::string& pin_root, CleanupReport& report);

// Deletes petrel_vxlan and the petrel_host/petrel_net pair.
void removePetrelDevices(CleanupReport& report);

// Unpins the socket LB's cgroup links (the last reference: they detach), then every petrel_* pin
// under `pin_root`, then the directory when nothing else is left in it. Refuses a pin root that is
// the bpffs mount itself or not on bpffs.
void removePins(const std::string& pin_root, CleanupReport& report);

// Unmounts the cgroup2 the agent mounts at /run/petrel/cgroupv2 when the node had none.
void unmountOwnCgroup(CleanupReport& report);

}  // namespace petrel::datapath
