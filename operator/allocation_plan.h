// planAllocations: one reconcile pass of pod-CIDR allocation as pure logic. From the Nodes and
// the PetrelNodes (the record of what is allocated) it rebuilds the used set and says which
// PetrelNodes to create, update or delete. No I/O: the operator lists, plans, then writes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "k8s/objects.h"
#include "operator/cidr_pool.h"

namespace petrel::op {

// What a pass needs of a Node.
struct NodeView {
  std::string name;
  std::vector<std::string> internal_ips;  // status.addresses of type InternalIP (IPv4), in order
  std::vector<std::string> pod_cidrs;     // spec.podCIDRs (or spec.podCIDR): adopted when free
  // Why the Node could not be decoded ("" when it could). Such a Node keeps its PetrelNode as
  // it is: nothing is written for it, and its CIDR stays taken.
  std::string unreadable;
};

// What a pass needs of a PetrelNode.
struct PetrelNodeView {
  std::string name;
  std::string creation_timestamp;         // RFC 3339; older records win a duplicate
  std::vector<std::string> pod_cidrs;     // spec.ipam.podCIDRs as written (may be malformed)
  std::vector<std::string> internal_ips;  // spec.addresses of type InternalIP, in order
};

// The views of objects decoded by agent/k8s (objects.h), the one decoder of Nodes and
// PetrelNodes.
NodeView nodeViewOf(const k8s::Node& node);
NodeView unreadableNodeView(const std::string& name, const std::string& why);
PetrelNodeView petrelNodeViewOf(const k8s::PetrelNode& petrel_node);

struct NodeAction {
  enum class Kind { kCreate, kUpdate, kDelete };
  Kind kind = Kind::kCreate;
  std::string name;
  std::optional<Ipv4Cidr> cidr;           // create/update: the node's pod CIDR
  std::vector<std::string> internal_ips;  // create/update: spec.addresses
  bool new_cidr = false;                  // create/update: the CIDR was allocated in this pass
  std::string reason;                     // for the log
};

struct AllocationPlan {
  // Deletes first, then updates and creates. A CIDR of a PetrelNode deleted in this pass stays
  // reserved for the rest of the pass (it is handed out by the next pass, after the delete).
  std::vector<NodeAction> actions;
  std::vector<std::string> warnings;   // bad or duplicate records found
  std::vector<std::string> exhausted;  // nodes left without a CIDR: the pool is full
  uint64_t used = 0;                   // node CIDRs in use after the plan
};

// `pool` is an empty pool of the configured shape (copied, not changed).
AllocationPlan planAllocations(const CidrPool& pool, const std::vector<NodeView>& nodes,
                               const std::vector<PetrelNodeView>& petrel_nodes);

}  // namespace petrel::op
