// XDP attachment of the uplink's Service fast path; see xdp_attach.h.
#include "agent/datapath/xdp_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include <spdlog/spdlog.h>

#include "agent/datapath/prog_name.h"
#include "common/unique_fd.h"

namespace petrel::datapath {

namespace {

constexpr const char* kXdpProgramName = "petrel_uplink_x";  // as the kernel truncates it

// The name of the program attached in driver mode, "" when there is none.
std::string attachedProgramName(uint32_t ifindex) {
  uint32_t id = 0;
  if (bpf_xdp_query_id(static_cast<int>(ifindex), XDP_FLAGS_DRV_MODE, &id) != 0 || id == 0) {
    return "";
  }
  return programNameById(id);
}

}  // namespace

Result<LbAcceleration> parseLbAcceleration(const std::string& text) {
  if (text == "native") return LbAcceleration::kNative;
  if (text == "best-effort") return LbAcceleration::kBestEffort;
  if (text == "disabled") return LbAcceleration::kDisabled;
  return makeError(Code::kInvalidArgument,
                   "'{}' is not an LB acceleration: use native, best-effort or disabled", text);
}

Result<std::string> deviceDriver(const std::string& device) {
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return errnoStatus(errno, "socket for ethtool");
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  ifreq req{};
  std::strncpy(req.ifr_name, device.c_str(), IFNAMSIZ - 1);
  req.ifr_data = reinterpret_cast<char*>(&info);
  if (ioctl(sock.get(), SIOCETHTOOL, &req) != 0) {
    return errnoStatus(errno, "ask the driver of " + device);
  }
  return std::string(info.driver);
}

Result<bool> applyUplinkXdp(const std::string& device, uint32_t ifindex, int prog_fd,
                            LbAcceleration mode) {
  const int index = static_cast<int>(ifindex);
  if (mode == LbAcceleration::kDisabled) {
    if (attachedProgramName(ifindex) == kXdpProgramName &&
        bpf_xdp_detach(index, XDP_FLAGS_DRV_MODE, nullptr) != 0) {
      return errnoStatus(errno, "detach Petrel's XDP program from " + device);
    }
    return false;
  }
  if (mode == LbAcceleration::kBestEffort) {
    auto driver = deviceDriver(device);
    if (driver && *driver == "veth") {
      spdlog::info(
          "Service fast path stays in tc on {}: it is a veth, whose XDP_TX frames its peer "
          "drops unless that runs XDP or has GRO on (--lb-acceleration=native attaches anyway)",
          device);
      return applyUplinkXdp(device, ifindex, prog_fd, LbAcceleration::kDisabled);
    }
  }
  if (const std::string other = attachedProgramName(ifindex);
      !other.empty() && other != kXdpProgramName) {
    if (mode == LbAcceleration::kNative) {
      return makeError(Code::kFailedPrecondition,
                       "{} already runs another XDP program ({}); Petrel does not replace it",
                       device, other);
    }
    spdlog::info("Service fast path stays in tc on {}: it runs another XDP program ({})", device,
                 other);
    return false;
  }
  if (bpf_xdp_attach(index, prog_fd, XDP_FLAGS_DRV_MODE, nullptr) != 0) {
    const int err = errno;
    if (mode == LbAcceleration::kNative) {
      return makeError(Code::kFailedPrecondition,
                       "attach the XDP Service fast path to {} in driver mode: {} (does its "
                       "driver support XDP? use --lb-acceleration=best-effort to fall back to tc)",
                       device, std::strerror(err));
    }
    spdlog::info("Service fast path stays in tc on {}: XDP in driver mode: {}", device,
                 std::strerror(err));
    return false;
  }
  return true;
}

}  // namespace petrel::datapath
