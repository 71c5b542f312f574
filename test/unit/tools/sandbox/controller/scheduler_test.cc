// The sandbox scheduler's pure logic: node eligibility, pods that need a node, round-robin.
#include <gtest/gtest.h>

#include "tools/sandbox/controller/scheduler.h"

namespace petrel::controller {
namespace {

using nlohmann::json;

json node(const std::string& name, const std::string& ready, bool unschedulable = false) {
  json n = {{"metadata", {{"name", name}}},
            {"status", {{"conditions", {{{"type", "Ready"}, {"status", ready}}}}}}};
  if (unschedulable) n["spec"]["unschedulable"] = true;
  return n;
}

TEST(ControllerScheduler, OnlyReadySchedulableNodesTakePods) {
  EXPECT_TRUE(nodeSchedulable(node("a", "True")));
  EXPECT_FALSE(nodeSchedulable(node("b", "False")));
  EXPECT_FALSE(nodeSchedulable(node("c", "Unknown")));
  EXPECT_FALSE(nodeSchedulable(node("d", "True", true)));
  EXPECT_FALSE(nodeSchedulable({{"metadata", {{"name", "e"}}}}));
  EXPECT_EQ(schedulableNodes({node("z", "True"), node("b", "False"), node("a", "True")}),
            (std::vector<std::string>{"a", "z"}));
}

TEST(ControllerScheduler, PodsWithoutANodeThatAreNotLeavingNeedScheduling) {
  json p = {{"metadata", {{"name", "web"}, {"namespace", "default"}, {"uid", "u1"}}},
            {"spec", {{"containers", {{{"name", "c"}}}}}},
            {"status", {{"phase", "Pending"}}}};
  EXPECT_TRUE(needsScheduling(p));
  json host = p;
  host["spec"]["hostNetwork"] = true;
  EXPECT_TRUE(needsScheduling(host));
  json bound = p;
  bound["spec"]["nodeName"] = "node-1";
  EXPECT_FALSE(needsScheduling(bound));
  json leaving = p;
  leaving["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  EXPECT_FALSE(needsScheduling(leaving));
  json failed = p;
  failed["status"]["phase"] = "Failed";
  EXPECT_FALSE(needsScheduling(failed));

  json b = bindingFor(p, "node-2");
  EXPECT_EQ(b["kind"], "Binding");
  EXPECT_EQ(b["metadata"]["name"], "web");
  EXPECT_EQ(b["target"]["kind"], "Node");
  EXPECT_EQ(b["target"]["name"], "node-2");
}

TEST(ControllerScheduler, RoundRobinCyclesAndSurvivesListChanges) {
  RoundRobin rr;
  std::vector<std::string> nodes = {"a", "b", "c"};
  std::vector<std::string> got;
  for (int i = 0; i < 6; ++i) got.push_back(rr.next(nodes));
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c", "a", "b", "c"}));
  EXPECT_EQ(rr.next({}), "");
  std::vector<std::string> two = {"a", "b"};
  std::string x = rr.next(two), y = rr.next(two);
  EXPECT_NE(x, y);
}

}  // namespace
}  // namespace petrel::controller
