// BpfLbDatapath: writes core::LbState into the service and backend maps, changing only the
// frontends that differ. A frontend's slots are written before its master entry (and surplus
// slots removed after it), so the programs never see a count beyond the slots. Backend ids are
// stable: a backend keeps its id while any frontend uses it, also across agent restarts (the
// maps are read back at start), so nothing that refers to an id is disturbed by a resync.
//
// A resync costs little more than one comparison per frontend: apply() walks the desired state
// and what is applied side by side (both ordered by frontend), and only a frontend whose Service
// entry differs from the one it last wrote is written again. Which backends and Service ids are
// still in use is kept as reference counts, updated only for the frontends written or removed.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include "agent/core/lb_state.h"
#include "agent/datapath/map_types.h"

namespace petrel::datapath {

class BpfLbDatapath : public core::LbDatapath {
 public:
  // Told about each backend that left the last frontend using it (its entry is gone), e.g. to
  // destroy the sockets still connected to it.
  using BackendRemoved = std::function<void(Ipv4Addr ip, uint16_t port, uint8_t proto)>;

  BpfLbDatapath(LbServiceMap& services, LbBackendMap& backends, BackendRemoved on_removed = {})
      : services_(services), backends_(backends), on_removed_(std::move(on_removed)) {}
  // Sets the hook (before the first apply()): its owner is often created after this writer.
  void onBackendRemoved(BackendRemoved on_removed) { on_removed_ = std::move(on_removed); }
  // Also keeps a Maglev table of `table_size` entries (in the map-in-map `maglev_fd`) for every
  // frontend reached from outside (NodePort, externalIPs, LoadBalancer).
  void enableMaglev(int maglev_fd, uint32_t table_size) {
    maglev_fd_ = maglev_fd;
    maglev_size_ = table_size;
  }
  // Reads what a previous run left in the maps. Call once, before the first apply().
  Status restore();
  Status apply(const core::LbState& desired) override;

  // What the last apply() did: frontends written (new or changed) and removed, updates and
  // deletes on the service and backend maps, and Maglev tables built or removed. For tests and
  // benchmarks.
  struct ApplyStats {
    size_t written = 0;
    size_t removed = 0;
    size_t map_writes = 0;
    size_t maglev_writes = 0;
  };
  ApplyStats lastApply() const;

  struct Frontend {
    core::LbService service;  // as applied (empty service name for one only read back)
    lb_service_value master{};
    std::vector<uint32_t> slots;  // backend ids of slots 1..n
    bool maglev = false;          // its Maglev table is written for these slots
    bool restored = false;        // read back from the maps, not written by this run yet
  };
  // A copy of what is applied, for `petrel service list`.
  std::map<core::LbFrontend, Frontend> applied() const;
  size_t backendCount() const;

 private:
  // ip << 24 | port << 8 | proto (host order): one hash lookup finds a backend's id.
  using BackendAddr = uint64_t;
  static BackendAddr backendAddr(uint32_t ip, uint16_t port, uint8_t proto) {
    return uint64_t{ip} << 24 | uint64_t{port} << 8 | proto;
  }
  Result<uint32_t> backendId(const core::LbBackend& b, uint8_t proto);
  uint16_t serviceId(const Frontend& applied, const core::LbService& svc);
  bool wantsMaglev(const core::LbService& svc) const;
  bool unchanged(const Frontend& applied, const core::LbService& svc) const;
  Status write(const core::LbFrontend& frontend, const core::LbService& svc);
  Status remove(std::map<core::LbFrontend, Frontend>::iterator it);
  // Reference counting of the backend ids in slots and the Service ids in masters.
  void reference(const Frontend& f);
  void unreference(const Frontend& f);
  // Removes the backends and forgets the Service ids no frontend refers to any more.
  Status collectUnused();
  Status writeMaglev(const core::LbFrontend& frontend, const core::LbService& svc,
                     const std::vector<uint32_t>& ids);

  LbServiceMap& services_;
  LbBackendMap& backends_;
  BackendRemoved on_removed_;
  int maglev_fd_ = -1;
  uint32_t maglev_size_ = 0;
  mutable std::mutex mu_;
  std::map<core::LbFrontend, Frontend> applied_;
  std::unordered_map<BackendAddr, uint32_t> backend_ids_;
  std::unordered_map<uint32_t, lb_backend> backend_values_;  // as written: unchanged cost nothing
  uint32_t next_backend_id_ = 1;
  std::unordered_map<uint32_t, uint32_t> backend_refs_;  // id -> slots of applied_ holding it
  std::vector<uint32_t> unused_backends_;        // may have no slot left: checked after a pass
  std::map<std::string, uint16_t> service_ids_;  // "namespace/name/port" -> id
  std::unordered_map<uint16_t, std::string> service_keys_;  // the reverse of service_ids_
  std::set<uint16_t> used_service_ids_;  // allocated (also read back): not to be given out
  std::unordered_map<uint16_t, uint32_t> service_refs_;  // id -> masters of applied_ with it
  std::vector<uint16_t> unused_service_ids_;  // may be in no master: checked after a pass
  uint16_t next_service_id_ = 1;
  ApplyStats stats_;
};

}  // namespace petrel::datapath
