// planAllocations: rebuild the used set from PetrelNodes, then bring every Node's record in line.
#include "operator/allocation_plan.h"

#include <algorithm>
#include <map>
#include <set>

namespace petrel::op {

namespace {

std::vector<std::string> texts(const std::vector<Ipv4Addr>& ips) {
  std::vector<std::string> out;
  for (const auto& ip : ips) out.push_back(ip.toString());
  return out;
}

}  // namespace

NodeView nodeViewOf(const k8s::Node& node) {
  return {node.meta.name, texts(node.internal_ips), node.pod_cidrs, ""};
}

NodeView unreadableNodeView(const std::string& name, const std::string& why) {
  return {name, {}, {}, why};
}

PetrelNodeView petrelNodeViewOf(const k8s::PetrelNode& petrel_node) {
  PetrelNodeView v;
  v.name = petrel_node.meta.name;
  v.creation_timestamp = petrel_node.meta.creation_timestamp;
  for (const auto& cidr : petrel_node.pod_cidrs) v.pod_cidrs.push_back(cidr.toString());
  for (const auto& text : petrel_node.malformed_pod_cidrs) v.pod_cidrs.push_back(text);
  v.internal_ips = texts(petrel_node.internal_ips);
  return v;
}

AllocationPlan planAllocations(const CidrPool& empty_pool, const std::vector<NodeView>& nodes,
                               const std::vector<PetrelNodeView>& petrel_nodes) {
  AllocationPlan plan;
  CidrPool pool = empty_pool;

  // 1. The record: oldest PetrelNode first keeps a contested CIDR (RFC 3339 UTC sorts as text).
  std::vector<const PetrelNodeView*> records;
  records.reserve(petrel_nodes.size());
  for (const auto& p : petrel_nodes) records.push_back(&p);
  std::sort(records.begin(), records.end(), [](const auto* a, const auto* b) {
    return std::tie(a->creation_timestamp, a->name) < std::tie(b->creation_timestamp, b->name);
  });
  std::map<std::string, std::optional<Ipv4Cidr>> held;  // PetrelNode -> the CIDR it keeps
  std::set<std::string> untidy;  // records with more IPv4 entries than the one they keep
  std::map<std::string, const PetrelNodeView*> byName;
  for (const auto* p : records) {
    byName[p->name] = p;
    std::optional<Ipv4Cidr> keep;
    int entries = 0;
    for (const auto& text : p->pod_cidrs) {
      if (text.find(':') != std::string::npos) continue;  // IPv6: not managed yet
      ++entries;
      auto cidr = Ipv4Cidr::parse(text);
      if (!cidr) {
        plan.warnings.push_back("PetrelNode " + p->name + ": pod CIDR '" + text +
                                "' is malformed; ignoring it");
        continue;
      }
      // Every CIDR a record names stays reserved for this pass, also an extra one (dropped from
      // the record by this pass, handed out by a later one).
      auto r = pool.reserve(*cidr);
      if (r == CidrPool::Reserve::kOk && !keep) {
        keep = cidr;
      } else if (r == CidrPool::Reserve::kOk) {
        plan.warnings.push_back("PetrelNode " + p->name + ": extra pod CIDR " + text +
                                " dropped (one per node)");
      } else if (r != CidrPool::Reserve::kTaken || !keep || *keep != *cidr) {
        plan.warnings.push_back("PetrelNode " + p->name + ": pod CIDR " + text + " is " +
                                reserveName(r) + "; dropping it");
      }
    }
    held[p->name] = keep;
    if (keep && entries > 1) untidy.insert(p->name);
  }

  // 2. Records of Nodes that are gone.
  std::map<std::string, const NodeView*> nodeByName;
  for (const auto& n : nodes) nodeByName[n.name] = &n;
  for (const auto* p : records) {
    if (nodeByName.count(p->name)) continue;
    NodeAction a;
    a.kind = NodeAction::Kind::kDelete;
    a.name = p->name;
    a.cidr = held[p->name];
    a.reason = "node is gone";
    plan.actions.push_back(std::move(a));
  }

  // 3. Every Node gets a record with a CIDR and its current addresses.
  std::vector<const NodeView*> sorted;
  sorted.reserve(nodeByName.size());
  for (const auto& [name, n] : nodeByName) sorted.push_back(n);
  std::vector<NodeAction> writes;
  for (const auto* n : sorted) {
    if (!n->unreadable.empty()) {
      plan.warnings.push_back(n->unreadable + "; its PetrelNode is left as it is");
      continue;
    }
    auto rec = byName.find(n->name);
    const bool exists = rec != byName.end();
    std::optional<Ipv4Cidr> cidr = exists ? held[n->name] : std::nullopt;
    bool fresh = false;
    std::string how;
    if (!cidr) {
      // Adopt a pod CIDR the Node already carries when it is one of the pool's and free.
      for (const auto& text : n->pod_cidrs) {
        auto c = Ipv4Cidr::parse(text);
        if (c && pool.reserve(*c) == CidrPool::Reserve::kOk) {
          cidr = c;
          how = "adopted from Node.spec.podCIDR";
          break;
        }
      }
      if (!cidr) {
        cidr = pool.allocate();
        how = "allocated";
      }
      if (!cidr) {
        plan.exhausted.push_back(n->name);
        continue;
      }
      fresh = true;
    }
    const bool tidy = !untidy.count(n->name);
    if (exists && !fresh && tidy && rec->second->internal_ips == n->internal_ips) continue;
    NodeAction a;
    a.kind = exists ? NodeAction::Kind::kUpdate : NodeAction::Kind::kCreate;
    a.name = n->name;
    a.cidr = cidr;
    a.internal_ips = n->internal_ips;
    a.new_cidr = fresh;
    a.reason = fresh ? how : (tidy ? "addresses changed" : "extra pod CIDRs dropped");
    writes.push_back(std::move(a));
  }
  for (auto& w : writes) plan.actions.push_back(std::move(w));
  plan.used = pool.usedCount();
  return plan;
}

}  // namespace petrel::op
