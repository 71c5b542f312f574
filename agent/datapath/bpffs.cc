// Mounting bpffs and creating the pin root.
#include "agent/datapath/bpffs.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include <spdlog/spdlog.h>

namespace petrel::datapath {

static bool isBpffs(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

Status ensureBpffs(const std::string& pin_root) {
  if (!isBpffs(pin_root) && !isBpffs(kBpffsMount)) {
    std::error_code ec;
    std::filesystem::create_directories(kBpffsMount, ec);
    if (::mount("bpffs", kBpffsMount, "bpf", 0, "mode=0700") != 0) {
      return errnoStatus(
          errno, std::string("mount bpffs at ") + kBpffsMount + " (the agent must run as root)");
    }
    spdlog::info("mounted bpffs at {}", kBpffsMount);
  }
  std::error_code ec;
  std::filesystem::create_directories(pin_root, ec);
  if (ec) return Status(Code::kInternal, "create pin root " + pin_root + ": " + ec.message());
  if (!isBpffs(pin_root)) {
    return Status(
        Code::kFailedPrecondition,
        "pin root " + pin_root + " is not on a BPF filesystem; choose a path under " + kBpffsMount);
  }
  return Status::ok();
}

}  // namespace petrel::datapath
