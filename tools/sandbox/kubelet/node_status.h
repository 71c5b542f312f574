// What the sandbox kubelet reports about its node: addresses, capacity (what the scheduler fits
// pods against), the Ready condition and node info; and the MicroTime of a Lease renewal.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace petrel::sandbox {

// The Node's status: InternalIP and Hostname, capacity = allocatable (the machine's CPUs and
// memory, 110 pods), Ready True, node info naming the sandbox kubelet.
nlohmann::json buildNodeStatus(const std::string& node_ip, const std::string& node_name);

// Now as a Kubernetes MicroTime ("2026-12-08T10:11:12.123456Z"), for Lease renewTime.
std::string nowMicroTime();

}  // namespace petrel::sandbox
