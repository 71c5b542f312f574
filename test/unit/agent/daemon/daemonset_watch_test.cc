// DaemonSetFate: what the watch of the agent's own DaemonSet concludes from lists and events.
#include "agent/daemon/daemonset_watch.h"

#include <gtest/gtest.h>

namespace petrel::agent {
namespace {

using nlohmann::json;

json daemonSet(const std::string& name, const std::string& uid, bool deleting = false) {
  json d = {{"metadata", {{"name", name}, {"uid", uid}}}};
  if (deleting) d["metadata"]["deletionTimestamp"] = "2026-12-08T00:00:00Z";
  return d;
}

TEST(DaemonSetFate, PresentAndUpdatedIsNotDeleted) {
  DaemonSetFate fate("petrel-agent", "u1");
  fate.replace({daemonSet("petrel-agent", "u1")});
  fate.upsert(daemonSet("petrel-agent", "u1"));
  EXPECT_FALSE(fate.deleted());
}

TEST(DaemonSetFate, ADeleteEventOrADeletionTimestampMeansDeleted) {
  DaemonSetFate removed("petrel-agent", "u1");
  removed.replace({daemonSet("petrel-agent", "u1")});
  removed.remove(daemonSet("petrel-agent", "u1"));
  EXPECT_TRUE(removed.deleted());

  DaemonSetFate marked("petrel-agent", "u1");
  marked.upsert(daemonSet("petrel-agent", "u1", true));
  EXPECT_TRUE(marked.deleted());
}

TEST(DaemonSetFate, AListWithoutItMeansItIsGone) {
  DaemonSetFate fate("petrel-agent", "u1");
  fate.replace({});
  EXPECT_TRUE(fate.deleted());
}

// Another DaemonSet of the same name (uninstalled and installed again) is not this pod's.
TEST(DaemonSetFate, OnlyThisPodsDaemonSetCounts) {
  DaemonSetFate fate("petrel-agent", "u1");
  fate.upsert(daemonSet("petrel-agent", "u2", true));
  fate.remove(daemonSet("other", "u1"));
  EXPECT_FALSE(fate.deleted());
  fate.replace({daemonSet("petrel-agent", "u2")});  // ours is not in the list any more
  EXPECT_TRUE(fate.deleted());
}

}  // namespace
}  // namespace petrel::agent
