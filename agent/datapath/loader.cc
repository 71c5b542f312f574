// Loading the lxc, overlay, uplink and sock skeletons with pinned, reusable maps.
#include "agent/datapath/loader.h"

#include <bpf/bpf.h>

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <iterator>

#include <spdlog/spdlog.h>

#include "agent/datapath/bpffs.h"
#include "common/unique_fd.h"
#include "lxc.skel.h"
#include "overlay.skel.h"
#include "sock.skel.h"
#include "uplink.skel.h"

namespace petrel::datapath {

namespace {
// Routes libbpf's messages into the agent's log. "Exclusivity flag on" is the kernel declining to
// create a clsact qdisc that already exists: expected on every re-attach, so not a warning.
int libbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), format, args);
  std::string line(buf, n > 0 ? std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1) : 0);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (level == LIBBPF_WARN && line.find("Exclusivity flag on") == std::string::npos) {
    spdlog::warn("libbpf: {}", line);
  } else {
    spdlog::debug("libbpf: {}", line);
  }
  return n;
}

// An older agent kept the socket LB's per-socket frontends in socket-local storage. That pin
// holds only what getpeername() of sockets connected before the upgrade shows, so it is dropped
// rather than failing the load (which would stop the node's datapath from being updated).
void dropOutdatedSocketFrontends(const std::string& pin_root) {
  const std::string path = pin_root + "/" PETREL_MAP_LB_SOCK_FRONTEND;
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd) return;  // none yet
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0 || info.type == BPF_MAP_TYPE_ARRAY) return;
  if (unlink(path.c_str()) == 0) {
    spdlog::info("removed {}: an older agent's map of type {}, not an array", path, info.type);
  }
}

// Applies the resizes of `options` to the maps `obj` defines, marking in `applied` those found.
Status resizeMaps(struct bpf_object* obj, const LoadOptions& options, std::vector<bool>& applied) {
  for (size_t i = 0; i < options.map_resizes.size(); ++i) {
    const MapResize& r = options.map_resizes[i];
    struct bpf_map* map = bpf_object__find_map_by_name(obj, r.name.c_str());
    if (!map) continue;
    if (int err = bpf_map__set_max_entries(map, r.max_entries); err) {
      return errnoStatus(-err, "resize map " + r.name);
    }
    if (r.type != 0) {
      if (int err = bpf_map__set_type(map, static_cast<enum bpf_map_type>(r.type)); err) {
        return errnoStatus(-err, "change the type of map " + r.name);
      }
    }
    applied[i] = true;
  }
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<LoadedDatapath>> LoadedDatapath::load(const std::string& pin_root,
                                                             const LoadOptions& options) {
  libbpf_set_print(libbpfPrint);
  PETREL_RETURN_IF_ERROR(ensureBpffs(pin_root));
  std::unique_ptr<LoadedDatapath> dp(new LoadedDatapath());
  dp->pin_root_ = pin_root;
  // A pinned map is reused only if its type, sizes and flags are what the object defines.
  const std::string stale_hint = fmt::format(
      " (a map pinned under {0} may be an older agent's, of another layout: drain the node, stop "
      "the agent, remove the pins with `rm -r {0}` and start it again; it pins new, empty maps, "
      "so the connections and NAT flows they tracked are lost)",
      pin_root);
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root.c_str());
  std::vector<bool> resized(options.map_resizes.size(), false);
  dp->lxc_ = lxc__open_opts(&opts);
  if (!dp->lxc_) return errnoStatus(errno, "open BPF object lxc");
  PETREL_RETURN_IF_ERROR(resizeMaps(dp->lxc_->obj, options, resized));
  dp->lxc_->rodata->tunnel_ifindex = options.tunnel_ifindex;
  if (int err = lxc__load(dp->lxc_); err) {
    return errnoStatus(-err, "load BPF object lxc" + stale_hint);
  }
  // The overlay object shares the endpoint, tunnel and metrics maps through their pins.
  dp->overlay_ = overlay__open_opts(&opts);
  if (!dp->overlay_) return errnoStatus(errno, "open BPF object overlay");
  PETREL_RETURN_IF_ERROR(resizeMaps(dp->overlay_->obj, options, resized));
  dp->overlay_->rodata->collect_md = options.tunnel_collect_md;
  if (int err = overlay__load(dp->overlay_); err) {
    return errnoStatus(-err, "load BPF object overlay" + stale_hint);
  }
  dp->uplink_ = uplink__open_opts(&opts);
  if (!dp->uplink_) return errnoStatus(errno, "open BPF object uplink");
  PETREL_RETURN_IF_ERROR(resizeMaps(dp->uplink_->obj, options, resized));
  // Maglev tables are arrays of the configured size: the outer map gets a template of it.
  LIBBPF_OPTS(bpf_map_create_opts, inner_opts, .map_flags = BPF_F_INNER_MAP);
  UniqueFd maglev_template(bpf_map_create(BPF_MAP_TYPE_ARRAY, "petrel_maglev", sizeof(uint32_t),
                                          sizeof(uint32_t), options.maglev_table_size,
                                          &inner_opts));
  if (!maglev_template) return errnoStatus(errno, "create the Maglev table template");
  if (int err =
          bpf_map__set_inner_map_fd(dp->uplink_->maps.petrel_lb_maglev, maglev_template.get());
      err) {
    return errnoStatus(-err, "set the Maglev table template");
  }
  dp->uplink_->bss->maglev_table_size = options.maglev_table_size;
  dp->maglev_table_size_ = options.maglev_table_size;
  if (int err = uplink__load(dp->uplink_); err) {
    return errnoStatus(-err, "load BPF object uplink" + stale_hint);
  }
  dropOutdatedSocketFrontends(pin_root);
  dp->sock_ = sock__open_opts(&opts);
  if (!dp->sock_) return errnoStatus(errno, "open BPF object sock");
  PETREL_RETURN_IF_ERROR(resizeMaps(dp->sock_->obj, options, resized));
  for (size_t i = 0; i < resized.size(); ++i) {
    if (!resized[i]) {
      return makeError(Code::kInvalidArgument, "resize map {}: no BPF object defines it",
                       options.map_resizes[i].name);
    }
  }
  if (int err = sock__load(dp->sock_); err) {
    return errnoStatus(-err, "load BPF object sock" + stale_hint);
  }
  dp->endpoints_ = decltype(dp->endpoints_)(bpf_map__fd(dp->lxc_->maps.petrel_endpoints),
                                            pin_root + "/" PETREL_MAP_ENDPOINTS);
  dp->tunnels_ = decltype(dp->tunnels_)(bpf_map__fd(dp->lxc_->maps.petrel_tunnel),
                                        pin_root + "/" PETREL_MAP_TUNNEL);
  dp->nat_ =
      decltype(dp->nat_)(bpf_map__fd(dp->uplink_->maps.petrel_nat), pin_root + "/" PETREL_MAP_NAT);
  dp->ct_ =
      decltype(dp->ct_)(bpf_map__fd(dp->uplink_->maps.petrel_ct), pin_root + "/" PETREL_MAP_CT);
  dp->lb_services_ = decltype(dp->lb_services_)(bpf_map__fd(dp->sock_->maps.petrel_lb_services),
                                                pin_root + "/" PETREL_MAP_LB_SERVICES);
  dp->lb_backends_ = decltype(dp->lb_backends_)(bpf_map__fd(dp->sock_->maps.petrel_lb_backends),
                                                pin_root + "/" PETREL_MAP_LB_BACKENDS);
  spdlog::info("BPF programs loaded, maps pinned under {}", pin_root);
  return dp;
}

LoadedDatapath::~LoadedDatapath() {
  sock__destroy(sock_);
  uplink__destroy(uplink_);
  overlay__destroy(overlay_);
  lxc__destroy(lxc_);
}

int LoadedDatapath::lxcProgramFd() const {
  return bpf_program__fd(lxc_->progs.petrel_lxc_from_container);
}

int LoadedDatapath::overlayEgressFd() const {
  return bpf_program__fd(overlay_->progs.petrel_overlay_egress);
}

int LoadedDatapath::overlayIngressFd() const {
  return bpf_program__fd(overlay_->progs.petrel_overlay_ingress);
}

int LoadedDatapath::uplinkEgressFd() const {
  return bpf_program__fd(uplink_->progs.petrel_uplink_egress);
}

int LoadedDatapath::uplinkIngressFd() const {
  return bpf_program__fd(uplink_->progs.petrel_uplink_ingress);
}

int LoadedDatapath::uplinkXdpFd() const {
  return bpf_program__fd(uplink_->progs.petrel_uplink_xdp);
}

nat_config& LoadedDatapath::natConfig() {
  return uplink_->bss->nat_config;
}

std::vector<std::pair<std::string, struct bpf_program*>> LoadedDatapath::socketLbPrograms() const {
  const auto& p = sock_->progs;
  struct bpf_program* const progs[] = {
      p.petrel_sock_connect4,     p.petrel_sock_sendmsg4, p.petrel_sock_recvmsg4,
      p.petrel_sock_getpeername4, p.petrel_sock_release,  p.petrel_sock_connect6,
      p.petrel_sock_sendmsg6,     p.petrel_sock_recvmsg6, p.petrel_sock_getpeername6};
  static_assert(std::size(progs) == std::size(kSocketLbHooks));
  std::vector<std::pair<std::string, struct bpf_program*>> out;
  for (size_t i = 0; i < std::size(progs); ++i) out.emplace_back(kSocketLbHooks[i], progs[i]);
  return out;
}

int LoadedDatapath::lbMaglevFd() const {
  return bpf_map__fd(uplink_->maps.petrel_lb_maglev);
}

int LoadedDatapath::metricsFd() const {
  return bpf_map__fd(lxc_->maps.petrel_metrics);
}

}  // namespace petrel::datapath
