// BpfLbDatapath: writes core::LbState into the service and backend maps, changing only the
// frontends that differ. A frontend's slots are written before its master entry (and surplus
// slots removed after it), so the programs never see a count beyond the slots. Backend ids are
// stable: a backend keeps its id while any frontend uses it, also across agent restarts (the
// maps are read back at start), so nothing that refers to an id is disturbed by a resync.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <vector>

#include "agent/core/lb_state.h"
#include "agent/datapath/loader.h"

namespace petrel::datapath {

class BpfLbDatapath : public core::LbDatapath {
 public:
  // Told about each backend that left the last frontend using it (its entry is gone), e.g. to
  // destroy the sockets still connected to it.
  using BackendRemoved = std::function<void(Ipv4Addr ip, uint16_t port, uint8_t proto)>;

  BpfLbDatapath(LbServiceMap& services, LbBackendMap& backends, BackendRemoved on_removed = {})
      : services_(services), backends_(backends), on_removed_(std::move(on_removed)) {}
  // Also keeps a Maglev table of `table_size` entries (in the map-in-map `maglev_fd`) for every
  // frontend reached from outside (NodePort, externalIPs, LoadBalancer).
  void enableMaglev(int maglev_fd, uint32_t table_size) {
    maglev_fd_ = maglev_fd;
    maglev_size_ = table_size;
  }
  // Reads what a previous run left in the maps.
  Status restore();
  Status apply(const core::LbState& desired) override;

  struct Frontend {
    core::LbService service;  // as applied (empty service name for one only read back)
    lb_service_value master{};
    std::vector<uint32_t> slots;  // backend ids of slots 1..n
    bool maglev = false;          // its Maglev table is written for these slots
  };
  // A copy of what is applied, for `petrel service list`.
  std::map<core::LbFrontend, Frontend> applied() const;
  size_t backendCount() const;

 private:
  using BackendAddr = std::tuple<uint32_t, uint16_t, uint8_t>;  // ip, port (host order), proto
  Result<uint32_t> backendId(const core::LbBackend& b, uint8_t proto);
  uint16_t serviceId(const core::LbFrontend& frontend, const core::LbService& svc);
  Status write(const core::LbFrontend& frontend, const core::LbService& svc);
  Status remove(const core::LbFrontend& frontend);
  Status writeMaglev(const core::LbFrontend& frontend, const core::LbService& svc,
                     const std::vector<uint32_t>& ids);

  LbServiceMap& services_;
  LbBackendMap& backends_;
  BackendRemoved on_removed_;
  int maglev_fd_ = -1;
  uint32_t maglev_size_ = 0;
  mutable std::mutex mu_;
  std::map<core::LbFrontend, Frontend> applied_;
  std::map<BackendAddr, uint32_t> backend_ids_;
  std::map<uint32_t, lb_backend> backend_values_;  // as written, so unchanged ones cost nothing
  uint32_t next_backend_id_ = 1;
  std::map<std::string, uint16_t> service_ids_;  // "namespace/name/port" -> id
  std::set<uint16_t> used_service_ids_;
  uint16_t next_service_id_ = 1;
};

}  // namespace petrel::datapath
