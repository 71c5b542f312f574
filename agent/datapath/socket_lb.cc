// Attaching the socket LB programs through pinned cgroup links.
#include "agent/datapath/socket_lb.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "common/unique_fd.h"

namespace petrel::datapath {

namespace fs = std::filesystem;

namespace {

bool isCgroup2(const std::string& dir) {
  struct statfs st {};
  return statfs(dir.c_str(), &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

std::string cgroup2Mount() {
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string source, target, type;
    fields >> source >> target >> type;
    if (type == "cgroup2") return target;
  }
  return "";
}

// The id of the cgroup a pinned cgroup link is attached to; 0 when unknown.
uint64_t linkCgroupId(int link_fd) {
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(link_fd, &info, &len) != 0) return 0;
  return info.cgroup.cgroup_id;
}

}  // namespace

std::string socketLbLinkPath(const std::string& pin_root, const std::string& hook) {
  return pin_root + "/links/sock_" + hook;
}

Result<std::string> resolveCgroupRoot(const std::string& flag) {
  if (!flag.empty()) {
    if (!isCgroup2(flag)) {
      return makeError(Code::kInvalidArgument,
                       "--cgroup-root {} is not a cgroup v2 directory (mount cgroup2 there, or "
                       "point at the cgroup2 mount or a directory in it)",
                       flag);
    }
    return flag;
  }
  if (std::string mount = cgroup2Mount(); !mount.empty()) return mount;
  std::error_code ec;
  fs::create_directories(kOwnCgroupMount, ec);
  if (ec) return makeError(Code::kInternal, "create {}: {}", kOwnCgroupMount, ec.message());
  if (mount("none", kOwnCgroupMount, "cgroup2", 0, nullptr) != 0) {
    return errnoStatus(errno, std::string("no cgroup2 is mounted and mounting one at ") +
                                  kOwnCgroupMount + " failed");
  }
  spdlog::info("mounted cgroup2 at {}", kOwnCgroupMount);
  return std::string(kOwnCgroupMount);
}

Status attachSocketLb(LoadedDatapath& dp, const std::string& cgroup_dir) {
  UniqueFd cgroup(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup) return errnoStatus(errno, "open cgroup " + cgroup_dir);
  struct stat st {};
  if (fstat(cgroup.get(), &st) != 0) return errnoStatus(errno, "stat cgroup " + cgroup_dir);
  const uint64_t cgroup_id = st.st_ino;  // a cgroup2 directory's inode is its cgroup id
  std::error_code ec;
  fs::create_directories(dp.pinRoot() + "/links", ec);
  if (ec) return makeError(Code::kInternal, "create {}/links: {}", dp.pinRoot(), ec.message());
  for (const auto& [hook, prog] : dp.socketLbPrograms()) {
    const std::string path = socketLbLinkPath(dp.pinRoot(), hook);
    bpf_link* old = access(path.c_str(), F_OK) == 0 ? bpf_link__open(path.c_str()) : nullptr;
    if (old) {
      const bool same_cgroup = linkCgroupId(bpf_link__fd(old)) == cgroup_id;
      if (same_cgroup && bpf_link__update_program(old, prog) == 0) {
        bpf_link__destroy(old);  // closes our fd; the pin keeps the link
        continue;
      }
      bpf_link__unpin(old);  // another cgroup (or an update the kernel refused): start over
      bpf_link__destroy(old);
    }
    bpf_link* link = bpf_program__attach_cgroup(prog, cgroup.get());
    if (!link) {
      return errnoStatus(errno, "attach the socket LB program " + hook + " to " + cgroup_dir);
    }
    int err = bpf_link__pin(link, path.c_str());
    bpf_link__destroy(link);
    if (err) return errnoStatus(-err, "pin the socket LB link " + path);
  }
  return Status::ok();
}

Status detachSocketLb(const std::string& pin_root) {
  std::error_code ec;
  for (const char* hook : kSocketLbHooks) {
    fs::remove(socketLbLinkPath(pin_root, hook), ec);  // the last reference: the link detaches
    if (ec)
      return makeError(Code::kInternal, "unpin {}: {}", socketLbLinkPath(pin_root, hook),
                       ec.message());
  }
  return Status::ok();
}

}  // namespace petrel::datapath
