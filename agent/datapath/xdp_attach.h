// XDP on the uplink: the Service fast path is attached in the driver (native) mode only, since
// generic XDP is no faster than tc. The attachment replaces any earlier Petrel program at once
// and outlives the agent, like the tc programs. Where it cannot be attached, tc does the work.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace petrel::datapath {

// --lb-acceleration, as Cilium's bpf-lb-acceleration:
//   native:      attach in driver mode or fail;
//   best-effort: attach where the driver can (a veth uplink is skipped: its XDP_TX frames are
//                dropped unless the peer runs XDP or has GRO on, which this node cannot see);
//   disabled:    tc only (a Petrel XDP program left from before is detached).
enum class LbAcceleration { kNative, kBestEffort, kDisabled };

Result<LbAcceleration> parseLbAcceleration(const std::string& text);

// The kernel driver of a device in this network namespace ("veth", "virtio_net", ...).
Result<std::string> deviceDriver(const std::string& device);

// Applies `mode` to the device; returns whether the XDP program is attached.
Result<bool> applyUplinkXdp(const std::string& device, uint32_t ifindex, int prog_fd,
                            LbAcceleration mode);

}  // namespace petrel::datapath
