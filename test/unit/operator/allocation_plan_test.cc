// planAllocations: rebuilding the used set from PetrelNodes (duplicates, out-of-pool, malformed),
// allocation for new Nodes, release of deleted Nodes' CIDRs, address updates, adoption of
// Node.spec.podCIDR, exhaustion, and a simulated cluster with random node churn in which no CIDR
// is ever held by two PetrelNodes.
#include "operator/allocation_plan.h"

#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace petrel::op {
namespace {

using Kind = NodeAction::Kind;

CidrPool pool(const char* cidr = "10.244.0.0/16", int mask = 24) {
  auto p = CidrPool::create(cidr, mask);
  EXPECT_TRUE(p);
  return std::move(*p);
}

NodeView node(const std::string& name, std::vector<std::string> ips = {},
              std::vector<std::string> pod_cidrs = {}) {
  return {name, std::move(ips), std::move(pod_cidrs), ""};
}

PetrelNodeView record(const std::string& name, const std::string& created,
                      std::vector<std::string> cidrs, std::vector<std::string> ips = {}) {
  return {name, created, std::move(cidrs), std::move(ips)};
}

const NodeAction* find(const AllocationPlan& plan, const std::string& name) {
  for (const auto& a : plan.actions) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

TEST(AllocationPlan, NewNodesGetTheLowestFreeCidrs) {
  auto plan = planAllocations(pool(), {node("b", {"192.168.1.2"}), node("a", {"192.168.1.1"})}, {});
  ASSERT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.actions[0].name, "a");
  EXPECT_EQ(plan.actions[0].kind, Kind::kCreate);
  EXPECT_EQ(plan.actions[0].cidr->toString(), "10.244.0.0/24");
  EXPECT_EQ(plan.actions[0].internal_ips, std::vector<std::string>{"192.168.1.1"});
  EXPECT_TRUE(plan.actions[0].new_cidr);
  EXPECT_EQ(plan.actions[1].cidr->toString(), "10.244.1.0/24");
  EXPECT_EQ(plan.used, 2u);
}

TEST(AllocationPlan, SteadyStateWritesNothing) {
  auto plan =
      planAllocations(pool(), {node("a", {"192.168.1.1"})},
                      {record("a", "2026-01-01T00:00:00Z", {"10.244.5.0/24"}, {"192.168.1.1"})});
  EXPECT_TRUE(plan.actions.empty());
  EXPECT_TRUE(plan.warnings.empty());
  EXPECT_EQ(plan.used, 1u);
}

TEST(AllocationPlan, ExistingRecordsAreNeverHandedOutAgain) {
  auto plan =
      planAllocations(pool(), {node("a"), node("b"), node("new")},
                      {record("a", "t1", {"10.244.0.0/24"}), record("b", "t2", {"10.244.2.0/24"})});
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].name, "new");
  EXPECT_EQ(plan.actions[0].cidr->toString(), "10.244.1.0/24");
}

TEST(AllocationPlan, DeletedNodeIsReleasedAndItsCidrReusedNextPass) {
  auto p1 =
      planAllocations(pool(), {node("b"), node("c")},
                      {record("a", "t1", {"10.244.0.0/24"}), record("b", "t2", {"10.244.1.0/24"})});
  ASSERT_EQ(p1.actions.size(), 2u);
  EXPECT_EQ(p1.actions[0].kind, Kind::kDelete);
  EXPECT_EQ(p1.actions[0].name, "a");
  EXPECT_EQ(p1.actions[0].cidr->toString(), "10.244.0.0/24");
  // Not reused in the same pass: the delete may fail.
  EXPECT_EQ(p1.actions[1].name, "c");
  EXPECT_EQ(p1.actions[1].cidr->toString(), "10.244.2.0/24");
  // After the delete the next node gets it.
  auto p2 =
      planAllocations(pool(), {node("b"), node("c"), node("d")},
                      {record("b", "t2", {"10.244.1.0/24"}), record("c", "t3", {"10.244.2.0/24"})});
  ASSERT_EQ(p2.actions.size(), 1u);
  EXPECT_EQ(p2.actions[0].name, "d");
  EXPECT_EQ(p2.actions[0].cidr->toString(), "10.244.0.0/24");
}

TEST(AllocationPlan, DuplicateKeptByOldestOtherReallocated) {
  auto plan = planAllocations(pool(), {node("a"), node("b"), node("c")},
                              {record("b", "2026-01-01T00:00:05Z", {"10.244.0.0/24"}),
                               record("a", "2026-01-01T00:00:09Z", {"10.244.0.0/24"}),
                               record("c", "2026-01-01T00:00:01Z", {"10.244.1.0/24"})});
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].name, "a");
  EXPECT_EQ(plan.actions[0].kind, Kind::kUpdate);
  EXPECT_EQ(plan.actions[0].cidr->toString(), "10.244.2.0/24");
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_NE(plan.warnings[0].find("PetrelNode a"), std::string::npos) << plan.warnings[0];
  EXPECT_NE(plan.warnings[0].find("already held"), std::string::npos) << plan.warnings[0];
}

TEST(AllocationPlan, SameTimestampDuplicateBrokenByName) {
  auto plan =
      planAllocations(pool(), {node("x"), node("y")},
                      {record("y", "t", {"10.244.3.0/24"}), record("x", "t", {"10.244.3.0/24"})});
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].name, "y");
}

TEST(AllocationPlan, OutOfPoolWrongSizeAndMalformedAreReallocated) {
  auto plan = planAllocations(
      pool(), {node("a"), node("b"), node("c"), node("v6")},
      {record("a", "t1", {"10.99.0.0/24"}), record("b", "t2", {"10.244.4.0/25"}),
       record("c", "t3", {"garbage"}), record("v6", "t4", {"fd00::/64", "10.244.9.0/24"})});
  std::map<std::string, std::string> got;
  for (const auto& a : plan.actions) {
    EXPECT_EQ(a.kind, Kind::kUpdate) << a.name;
    got[a.name] = a.cidr->toString();
  }
  EXPECT_EQ(got, (std::map<std::string, std::string>{
                     {"a", "10.244.0.0/24"}, {"b", "10.244.1.0/24"}, {"c", "10.244.2.0/24"}}));
  EXPECT_EQ(plan.warnings.size(), 3u);
}

TEST(AllocationPlan, ExtraCidrsStayReservedUntilDroppedFromTheRecord) {
  auto p1 = planAllocations(pool(), {node("a"), node("b")},
                            {record("a", "t1", {"10.244.0.0/24", "10.244.1.0/24"})});
  ASSERT_EQ(p1.actions.size(), 2u);
  EXPECT_EQ(p1.actions[0].name, "a");
  EXPECT_EQ(p1.actions[0].kind, Kind::kUpdate);
  EXPECT_EQ(p1.actions[0].cidr->toString(), "10.244.0.0/24");
  EXPECT_FALSE(p1.actions[0].new_cidr);
  EXPECT_EQ(p1.actions[1].name, "b");
  EXPECT_EQ(p1.actions[1].cidr->toString(), "10.244.2.0/24");  // not a's extra one
  auto p2 =
      planAllocations(pool(), {node("a"), node("b"), node("c")},
                      {record("a", "t1", {"10.244.0.0/24"}), record("b", "t2", {"10.244.2.0/24"})});
  ASSERT_EQ(p2.actions.size(), 1u);
  EXPECT_EQ(p2.actions[0].cidr->toString(), "10.244.1.0/24");
}

TEST(AllocationPlan, AddressChangeUpdatesKeepingTheCidr) {
  auto plan = planAllocations(pool(), {node("a", {"192.168.1.9"})},
                              {record("a", "t1", {"10.244.3.0/24"}, {"192.168.1.1"})});
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].kind, Kind::kUpdate);
  EXPECT_FALSE(plan.actions[0].new_cidr);
  EXPECT_EQ(plan.actions[0].cidr->toString(), "10.244.3.0/24");
  EXPECT_EQ(plan.actions[0].internal_ips, std::vector<std::string>{"192.168.1.9"});
}

TEST(AllocationPlan, AdoptsAFreeNodePodCidrFromThePool) {
  auto plan = planAllocations(pool(),
                              {node("a", {}, {"10.244.7.0/24"}), node("b", {}, {"10.244.7.0/24"}),
                               node("c", {}, {"10.1.0.0/24"})},
                              {});
  std::map<std::string, std::string> got;
  for (const auto& a : plan.actions) got[a.name] = a.cidr->toString();
  EXPECT_EQ(got, (std::map<std::string, std::string>{
                     {"a", "10.244.7.0/24"}, {"b", "10.244.0.0/24"}, {"c", "10.244.1.0/24"}}));
}

TEST(AllocationPlan, ExhaustedPoolLeavesNodesWithoutAndSaysWhich) {
  auto plan = planAllocations(pool("10.8.0.0/23", 24), {node("a"), node("b"), node("c"), node("d")},
                              {record("d", "t0", {"10.77.0.0/24"})});
  EXPECT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.exhausted, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(find(plan, "d"), nullptr);  // its bad record is left alone, not half-fixed
  EXPECT_EQ(plan.used, 2u);
}

TEST(AllocationPlan, ViewsReadTheDecodedObjects) {
  auto node = k8s::decodeNode(nlohmann::json::parse(R"({"metadata":{"name":"n1"},
      "spec":{"podCIDR":"10.244.3.0/24"},
      "status":{"addresses":[{"type":"Hostname","address":"n1"},
                             {"type":"InternalIP","address":"192.168.0.4"}]}})"));
  ASSERT_TRUE(node) << node.status().message();
  auto n = nodeViewOf(*node);
  EXPECT_EQ(n.name, "n1");
  EXPECT_EQ(n.pod_cidrs, std::vector<std::string>{"10.244.3.0/24"});
  EXPECT_EQ(n.internal_ips, std::vector<std::string>{"192.168.0.4"});
  EXPECT_TRUE(n.unreadable.empty());
  auto record = k8s::decodePetrelNode(nlohmann::json::parse(R"({"metadata":{"name":"n1",
      "creationTimestamp":"2026-11-24T04:00:00Z"},
      "spec":{"ipam":{"podCIDRs":["10.244.3.0/24","10.244.9.0/33"]},
              "addresses":[{"type":"InternalIP","ip":"192.168.0.4"}]}})"));
  ASSERT_TRUE(record) << record.status().message();
  auto p = petrelNodeViewOf(*record);
  EXPECT_EQ(p.name, "n1");
  EXPECT_EQ(p.creation_timestamp, "2026-11-24T04:00:00Z");
  // The malformed CIDR stays in the view: the plan warns and drops it from the record.
  EXPECT_EQ(p.pod_cidrs, (std::vector<std::string>{"10.244.3.0/24", "10.244.9.0/33"}));
  EXPECT_EQ(p.internal_ips, std::vector<std::string>{"192.168.0.4"});
  auto plan = planAllocations(pool(), {n}, {p});
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].kind, Kind::kUpdate);
  EXPECT_EQ(plan.actions[0].cidr->toString(), "10.244.3.0/24");
  EXPECT_EQ(plan.warnings.size(), 1u);
}

// A Node the decoder rejects is still a Node: its record is neither deleted nor rewritten, and
// its CIDR is not handed to another.
TEST(AllocationPlan, UnreadableNodeKeepsItsRecordAndCidr) {
  auto plan = planAllocations(
      pool("10.8.0.0/23", 24),
      {unreadableNodeView("a", "Node a: spec.podCIDRs: 'x' is not a CIDR"), node("b")},
      {record("a", "t0", {"10.8.0.0/24"}, {"192.168.1.1"})});
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].name, "b");
  EXPECT_EQ(plan.actions[0].cidr->toString(), "10.8.1.0/24");
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_NE(plan.warnings[0].find("Node a: spec.podCIDRs"), std::string::npos) << plan.warnings[0];
  EXPECT_EQ(plan.used, 2u);
}

// A cluster: Nodes come and go at random, each pass's writes are applied (some fail, as writes
// do), and the record is checked after every pass: no CIDR on two PetrelNodes, every CIDR from
// the pool, no record without a Node, and, once a pass writes nothing, every Node has a record.
TEST(AllocationPlan, RandomChurnNeverGivesACidrToTwoNodes) {
  std::mt19937 rng(7);
  const CidrPool empty = pool("10.244.0.0/20", 24);  // 16 node CIDRs
  for (int round = 0; round < 30; ++round) {
    std::map<std::string, NodeView> nodes;
    std::map<std::string, PetrelNodeView> records;
    int clock = 0;
    int next_node = 0;
    for (int pass = 0; pass < 200; ++pass) {
      int changes = static_cast<int>(rng() % 4);
      for (int c = 0; c < changes; ++c) {
        if (!nodes.empty() && rng() % 2 == 0) {
          auto it = nodes.begin();
          std::advance(it, rng() % nodes.size());
          nodes.erase(it);
        } else if (nodes.size() < 20) {  // more nodes than CIDRs now and then
          std::string name = "node-" + std::to_string(next_node++);
          nodes[name] = node(name, {"192.168.0." + std::to_string(next_node % 250)});
        }
      }
      std::vector<NodeView> nv;
      nv.reserve(nodes.size());
      for (const auto& [_, n] : nodes) nv.push_back(n);
      std::vector<PetrelNodeView> rv;
      rv.reserve(records.size());
      for (const auto& [_, r] : records) rv.push_back(r);
      auto plan = planAllocations(empty, nv, rv);
      for (const auto& a : plan.actions) {
        if (rng() % 10 == 0) continue;  // a failed write: retried by a later pass
        char created[32];
        std::snprintf(created, sizeof(created), "t%08d", ++clock);
        switch (a.kind) {
          case Kind::kDelete:
            records.erase(a.name);
            break;
          case Kind::kCreate:
            if (records.count(a.name)) break;  // 409 AlreadyExists
            records[a.name] = record(a.name, created, {a.cidr->toString()}, a.internal_ips);
            break;
          case Kind::kUpdate:
            records[a.name].pod_cidrs = {a.cidr->toString()};
            records[a.name].internal_ips = a.internal_ips;
            break;
        }
      }
      std::set<std::string> seen;
      for (const auto& [name, r] : records) {
        ASSERT_EQ(r.pod_cidrs.size(), 1u);
        ASSERT_TRUE(seen.insert(r.pod_cidrs[0]).second)
            << "round " << round << " pass " << pass << ": " << r.pod_cidrs[0] << " twice";
        auto c = Ipv4Cidr::parse(r.pod_cidrs[0]);
        ASSERT_TRUE(c && empty.pool().contains(c->base) && c->prefix_len == 24);
      }
      if (plan.actions.empty()) {
        for (const auto& [name, r] : records) ASSERT_TRUE(nodes.count(name)) << name;
        size_t without = 0;
        for (const auto& [name, n] : nodes) without += records.count(name) ? 0 : 1;
        EXPECT_EQ(without, plan.exhausted.size());
        EXPECT_EQ(without, nodes.size() > 16 ? nodes.size() - 16 : 0u);
      }
    }
  }
}

}  // namespace
}  // namespace petrel::op
