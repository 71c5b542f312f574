// Removing Petrel's programs, routes, devices and pins from the node; see datapath_cleanup.h.
#include "agent/datapath/datapath_cleanup.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "agent/datapath/bpf_map.h"
#include "agent/datapath/bpffs.h"
#include "agent/datapath/host_device.h"
#include "agent/datapath/loader.h"
#include "agent/datapath/overlay.h"
#include "agent/datapath/prog_name.h"
#include "agent/datapath/socket_lb.h"
#include "common/netlink.h"
#include "common/unique_fd.h"
#include "maps.h"

namespace petrel::datapath {

namespace fs = std::filesystem;

namespace {

// The handle and priority attachTc (tc_attach.cc) gives every Petrel filter.
constexpr uint32_t kTcHandle = 1;
constexpr uint32_t kTcPriority = 1;

// libbpf's messages while links are probed go to the debug log: a link without clsact or without
// Petrel's filter makes the kernel explain why the query found nothing, which is no error here.
int debugPrint(enum libbpf_print_level, const char* format, va_list args) {
  char buf[512];
  int n = vsnprintf(buf, sizeof(buf), format, args);
  std::string line(buf);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  spdlog::debug("libbpf: {}", line);
  return n;
}

bool onFs(const std::string& path, int64_t magic) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && static_cast<int64_t>(st.f_type) == magic;
}

void detachTcFilters(const LinkInfo& link, CleanupReport& report) {
  for (auto [point, dir] :
       {std::pair{BPF_TC_INGRESS, "ingress"}, std::pair{BPF_TC_EGRESS, "egress"}}) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = link.ifindex, .attach_point = point);
    LIBBPF_OPTS(bpf_tc_opts, query, .handle = kTcHandle, .priority = kTcPriority);
    // ENOENT: no such filter; EINVAL: no clsact on the link.
    if (int err = bpf_tc_query(&hook, &query); err) {
      if (err != -ENOENT && err != -EINVAL && err != -ENODEV) {
        report.failed(
            fmt::format("query the tc {} filter of {}: {}", dir, link.name, std::strerror(-err)));
      }
      continue;
    }
    const std::string name = programNameById(query.prog_id);
    if (!isPetrelProgramName(name)) continue;  // another program at that handle: not ours
    LIBBPF_OPTS(bpf_tc_opts, detach, .handle = kTcHandle, .priority = kTcPriority);
    if (int err = bpf_tc_detach(&hook, &detach); err && err != -ENOENT) {
      report.failed(fmt::format("detach tc {} program {} from {}: {}", dir, name, link.name,
                                std::strerror(-err)));
    } else {
      report.removed(fmt::format("tc {} program {} on {}", dir, name, link.name));
    }
  }
}

void detachXdp(const LinkInfo& link, CleanupReport& report) {
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  if (int err = bpf_xdp_query(link.ifindex, 0, &q); err) {
    if (err != -ENODEV) {
      report.failed(fmt::format("query XDP on {}: {}", link.name, std::strerror(-err)));
    }
    return;
  }
  for (auto [id, flag, mode] : {std::tuple{q.drv_prog_id, XDP_FLAGS_DRV_MODE, "driver"},
                                std::tuple{q.skb_prog_id, XDP_FLAGS_SKB_MODE, "generic"}}) {
    if (id == 0) continue;
    const std::string name = programNameById(id);
    if (!isPetrelProgramName(name)) continue;
    UniqueFd fd(bpf_prog_get_fd_by_id(id));
    // Replace-if-still-that-program: a program attached meanwhile by someone else stays.
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = fd.get());
    if (!fd || bpf_xdp_detach(link.ifindex, flag, &opts) != 0) {
      report.failed(fmt::format("detach XDP program {} ({} mode) from {}: {}", name, mode,
                                link.name, std::strerror(errno)));
    } else {
      report.removed(fmt::format("XDP program {} ({} mode) on {}", name, mode, link.name));
    }
  }
}

struct KernelRoute {
  std::string dev;
  std::optional<Ipv4Addr> gateway;
};

// The routes of /proc/net/route (this namespace's): destination CIDR -> device and gateway.
std::multimap<std::string, KernelRoute> kernelRoutes() {
  std::multimap<std::string, KernelRoute> out;
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string iface, dst, gw, flags, refcnt, use, metric, mask;
    if (!(f >> iface >> dst >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    // /proc/net/route prints addresses as the host-order value of network-order bytes.
    const uint32_t d = static_cast<uint32_t>(std::stoul(dst, nullptr, 16));
    const uint32_t m = static_cast<uint32_t>(std::stoul(mask, nullptr, 16));
    Ipv4Cidr cidr{Ipv4Addr::fromNetwork(d), static_cast<uint8_t>(__builtin_popcount(m))};
    const uint32_t g = static_cast<uint32_t>(std::stoul(gw, nullptr, 16));
    out.emplace(cidr.toString(),
                KernelRoute{iface, g ? std::optional(Ipv4Addr::fromNetwork(g)) : std::nullopt});
  }
  return out;
}

bool stillRouted(const std::string& cidr, const std::string& dev) {
  const auto routes = kernelRoutes();
  auto [first, last] = routes.equal_range(cidr);
  return std::any_of(first, last, [&](const auto& r) { return r.second.dev == dev; });
}

}  // namespace

void CleanupReport::removed(std::string what) {
  if (sink_) sink_(false, "removed " + what);
  removed_.push_back(std::move(what));
}

void CleanupReport::failed(std::string what) {
  if (sink_) sink_(true, "FAILED " + what);
  failures_.push_back(std::move(what));
}

void CleanupReport::kept(const std::string& what) {
  if (sink_) sink_(false, "kept " + what);
}

std::string CleanupReport::summary() const {
  return fmt::format("removed {} thing{}, {} failure{}", removed_.size(),
                     removed_.size() == 1 ? "" : "s", failures_.size(),
                     failures_.size() == 1 ? "" : "s");
}

void detachPetrelPrograms(CleanupReport& report) {
  auto nl = NetlinkSocket::open();
  auto links = nl ? nl->listLinks() : Result<std::vector<LinkInfo>>(nl.status());
  if (!links) {
    report.failed("list links to detach programs from: " + links.status().message());
    return;
  }
  const libbpf_print_fn_t previous = libbpf_set_print(debugPrint);
  for (const auto& link : *links) {
    detachTcFilters(link, report);
    detachXdp(link, report);
  }
  libbpf_set_print(previous);
}

void removeTunnelRoutes(const std::string& pin_root, CleanupReport& report) {
  const std::string path = pin_root + "/" PETREL_MAP_TUNNEL;
  if (!fs::exists(path)) return;
  auto map = BpfMap<tunnel_key, tunnel_info>::openPinned(path);
  auto keys = map ? map->keys() : Result<std::vector<tunnel_key>>(map.status());
  if (!keys) {
    report.failed("read the routes to remove: " + keys.status().message());
    return;
  }
  auto nl = NetlinkSocket::open();
  if (!nl) {
    report.failed("remove routes: " + nl.status().message());
    return;
  }
  const auto routes = kernelRoutes();
  const std::string underlay = underlayDevice();
  for (const auto& key : *keys) {
    if (key.family != PETREL_AF_INET) continue;
    const Ipv4Cidr cidr{Ipv4Addr::fromNetwork(key.ip4),
                        static_cast<uint8_t>(key.prefixlen - TUNNEL_KEY_PREFIX_BITS)};
    auto [first, last] = routes.equal_range(cidr.toString());
    for (auto it = first; it != last; ++it) {
      const KernelRoute& r = it->second;
      // Only the devices BpfTunnelDatapath routes through.
      if (r.dev != underlay && r.dev != kOverlayDevice) continue;
      auto link = nl->getLink(r.dev);
      Status st = link ? nl->deleteRoute(cidr, link->ifindex, r.gateway) : link.status();
      const std::string what = fmt::format("route {} dev {}", cidr.toString(), r.dev);
      if (!st) {
        report.failed(fmt::format("delete {}: {}", what, st.message()));
      } else if (stillRouted(cidr.toString(), r.dev)) {
        // deleteRoute matches the protocol the agent adds its routes with: this one is not ours.
        report.kept(what + ": not added by Petrel (another protocol)");
      } else {
        report.removed(what);
      }
    }
  }
}

void removePetrelDevices(CleanupReport& report) {
  auto nl = NetlinkSocket::open();
  if (!nl) {
    report.failed("remove devices: " + nl.status().message());
    return;
  }
  // Deleting petrel_host deletes its peer petrel_net; the peer is tried in case it is alone.
  for (const char* dev : {kOverlayDevice, kHostDevice, kHostPeerDevice}) {
    if (!nl->getLink(dev)) continue;
    if (auto st = nl->deleteLink(dev); !st) {
      report.failed(fmt::format("delete device {}: {}", dev, st.message()));
    } else {
      report.removed(fmt::format("device {}", dev));
    }
  }
}

void removePins(const std::string& pin_root, CleanupReport& report) {
  std::error_code ec;
  if (!fs::exists(pin_root, ec)) return;
  const fs::path root = fs::weakly_canonical(pin_root, ec);
  if (root == fs::path(kBpffsMount) || root == "/" || !onFs(root.string(), BPF_FS_MAGIC)) {
    report.failed(fmt::format(
        "remove pins under {}: not a Petrel pin root (it must be a directory below {} on bpffs)",
        pin_root, kBpffsMount));
    return;
  }
  // The links first: unpinning the last reference detaches each from its cgroup.
  for (const char* hook : kSocketLbHooks) {
    const std::string link = socketLbLinkPath(pin_root, hook);
    if (!fs::exists(link, ec)) continue;
    if (fs::remove(link, ec); ec) {
      report.failed(fmt::format("unpin the socket LB link {}: {}", link, ec.message()));
    } else {
      report.removed(fmt::format("cgroup socket LB link {} (detached)", link));
    }
  }
  const fs::path links = root / "links";
  if (fs::is_directory(links, ec) && fs::is_empty(links, ec) && fs::remove(links, ec)) {
    report.removed("directory " + links.string());
  }
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("petrel_", 0) != 0 || entry.is_directory()) continue;
    if (fs::remove(entry.path(), ec); ec) {
      report.failed(fmt::format("unpin {}: {}", entry.path().string(), ec.message()));
    } else {
      report.removed("pinned map " + entry.path().string());
    }
  }
  if (ec) report.failed(fmt::format("list {}: {}", root.string(), ec.message()));
  if (fs::is_empty(root, ec)) {
    if (fs::remove(root, ec); ec) {
      report.failed(fmt::format("remove {}: {}", root.string(), ec.message()));
    } else {
      report.removed("directory " + root.string());
    }
  } else {
    report.kept(fmt::format("{}: it holds files that are not Petrel's", root.string()));
  }
}

void unmountOwnCgroup(CleanupReport& report) {
  if (!onFs(kOwnCgroupMount, CGROUP2_SUPER_MAGIC)) return;
  if (::umount2(kOwnCgroupMount, MNT_DETACH) != 0) {
    report.failed(fmt::format("unmount {}: {}", kOwnCgroupMount, std::strerror(errno)));
    return;
  }
  std::error_code ec;
  fs::remove(kOwnCgroupMount, ec);
  report.removed(fmt::format("cgroup2 mount {}", kOwnCgroupMount));
}

}  // namespace petrel::datapath
