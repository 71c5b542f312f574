// What the sandbox's underlay needs to behave like a wire for the agents' XDP fast path
// (--lb-acceleration native): a veth hands XDP_TX frames only to a peer that runs XDP itself,
// and frames from a local stack carry a partial checksum (offload) that a real wire never has.
#pragma once

#include <string>

#include "common/status.h"

namespace petrel::sandbox {

// Attaches a program that passes everything to `device` in namespace `netns`, in driver mode,
// so that its veth peer's XDP_TX frames are received (as a switch port would).
Status attachXdpPass(const std::string& netns, const std::string& device);

// Turns transmit checksum offload off on `device` (in `netns`, "" for this one), so packets
// leave it with complete checksums, as on a wire.
Status completeChecksumsOn(const std::string& netns, const std::string& device);

}  // namespace petrel::sandbox
