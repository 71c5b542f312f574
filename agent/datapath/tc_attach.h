// TcProgramAttachment: attaches a BPF program to the tc ingress (clsact) hook of an interface,
// replacing whatever Petrel attached there before (so an agent restart swaps programs with no
// gap). The attachment outlives the agent process on purpose: pods stay connected while it is
// down. detach() removes it.
#pragma once

#include <cstdint>

#include "common/status.h"

namespace petrel::datapath {

enum class TcDirection { kIngress, kEgress };

// Idempotent: creates clsact if needed and replaces Petrel's filter (handle 1, priority 1).
Status attachTc(uint32_t ifindex, int prog_fd, TcDirection direction);
// Removes Petrel's filter; NOT_FOUND errors (interface or filter gone) count as success.
Status detachTc(uint32_t ifindex, TcDirection direction);

}  // namespace petrel::datapath
