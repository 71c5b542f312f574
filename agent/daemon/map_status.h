// The maps' pressure in the agent's Status (`petrel status`), from the pins under the BPF root.
#pragma once

#include <string>

#include "agent.pb.h"

namespace petrel::agent {

// Fills out->maps (or out->maps_error) for the maps pinned under `pin_root`.
void fillMapPressure(const std::string& pin_root, api::v1::StatusResponse* out);

}  // namespace petrel::agent
