// LoadedDatapath: owns the BPF objects embedded in the agent (libbpf skeletons: lxc, overlay,
// uplink, sock). Maps are pinned by name under the pin root, and a new load reuses maps already
// pinned there, so an agent restart keeps every entry (and the connections that depend on them).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/datapath/bpf_map.h"
#include "agent/datapath/map_types.h"
#include "common/status.h"
#include "maps.h"

struct lxc;
struct overlay;
struct uplink;
struct sock;
struct bpf_program;

namespace petrel::datapath {

// A map given another capacity before load, so tests reach it with a few entries. Only a map
// not pinned yet takes it (a reused pin keeps its own), in every object that defines it.
struct MapResize {
  std::string name;  // the pin name, e.g. PETREL_MAP_CT
  uint32_t max_entries = 0;
  // 0: unchanged. A plain BPF_MAP_TYPE_HASH in place of an LRU one refuses an insert when full
  // instead of evicting: how a test makes the programs meet the refusal an LRU gives only when
  // it finds nothing to evict.
  uint32_t type = 0;
};

// Values the programs are configured with before load.
struct LoadOptions {
  uint32_t tunnel_ifindex = 0;              // the overlay device; 0: no tunnelling
  bool tunnel_collect_md = false;           // the overlay device is collect_md (OverlayMode)
  uint32_t maglev_table_size = 16381;       // a prime (core::checkMaglevTableSize)
  std::vector<MapResize> map_resizes = {};  // tests only
};

// The cgroup hooks the socket-level load balancer attaches to (the names of their link pins).
inline constexpr const char* kSocketLbHooks[] = {"connect4",     "sendmsg4", "recvmsg4",
                                                 "getpeername4", "release",  "connect6",
                                                 "sendmsg6",     "recvmsg6", "getpeername6"};

class LoadedDatapath {
 public:
  // Mounts bpffs if needed, opens and loads the programs with maps pinned under `pin_root`.
  static Result<std::unique_ptr<LoadedDatapath>> load(const std::string& pin_root,
                                                      const LoadOptions& options = {});
  ~LoadedDatapath();
  LoadedDatapath(const LoadedDatapath&) = delete;
  LoadedDatapath& operator=(const LoadedDatapath&) = delete;

  int lxcProgramFd() const;
  int overlayEgressFd() const;
  int overlayIngressFd() const;
  int uplinkEgressFd() const;
  int uplinkIngressFd() const;
  int uplinkXdpFd() const;  // the NodePort fast path, attached before tc ingress
  // The uplink programs' masquerade settings, in the object's mmapped .bss: writes take effect
  // at once.
  nat_config& natConfig();
  // The socket-level load balancer's programs, one per hook of kSocketLbHooks, in its order.
  std::vector<std::pair<std::string, struct bpf_program*>> socketLbPrograms() const;
  EndpointMap& endpoints() { return endpoints_; }
  TunnelMap& tunnels() { return tunnels_; }
  NatMap& nat() { return nat_; }
  CtMap& conntrack() { return ct_; }
  LbServiceMap& lbServices() { return lb_services_; }
  LbBackendMap& lbBackends() { return lb_backends_; }
  int lbMaglevFd() const;
  uint32_t maglevTableSize() const { return maglev_table_size_; }
  int metricsFd() const;
  const std::string& pinRoot() const { return pin_root_; }

 private:
  LoadedDatapath() = default;
  struct lxc* lxc_ = nullptr;
  struct overlay* overlay_ = nullptr;
  struct uplink* uplink_ = nullptr;
  struct sock* sock_ = nullptr;
  BpfMap<endpoint_key, endpoint_info> endpoints_;
  BpfMap<tunnel_key, tunnel_info> tunnels_;
  BpfMap<flow_key, nat_entry> nat_;
  BpfMap<flow_key, ct_entry> ct_;
  BpfMap<lb_service_key, lb_service_value> lb_services_;
  BpfMap<uint32_t, lb_backend> lb_backends_;
  std::string pin_root_;
  uint32_t maglev_table_size_ = 0;
};

}  // namespace petrel::datapath
