// One Service's slice sync against an in-memory SliceApi: creates, no writes when equal,
// re-read and retry on 409 Conflict, giving up on persistent conflicts and read errors.
#include <gtest/gtest.h>

#include <map>

#include "tools/sandbox/controller/slice_sync.h"

namespace petrel::controller {
namespace {

using nlohmann::json;

// Slices by name with resourceVersions; `conflicts` makes the next N writes answer 409 after a
// concurrent writer bumped the slice.
class FakeSliceApi : public SliceApi {
 public:
  Result<std::vector<json>> list(const std::string& ns, const std::string& service) override {
    ++lists;
    if (listFails) return Status(Code::kUnavailable, "connection refused");
    std::vector<json> out;
    for (const auto& [name, s] : slices) {
      if (s["metadata"]["namespace"] == ns &&
          s["metadata"]["labels"]["kubernetes.io/service-name"] == service) {
        out.push_back(s);
      }
    }
    return out;
  }
  WriteOutcome create(const json& slice, std::string* name) override {
    ++writes;
    json s = slice;
    *name = slice["metadata"]["generateName"].get<std::string>() + std::to_string(next_++);
    s["metadata"]["name"] = *name;
    s["metadata"]["resourceVersion"] = std::to_string(++rv_);
    slices[*name] = s;
    return WriteOutcome::kDone;
  }
  WriteOutcome update(const json& slice) override {
    ++writes;
    std::string name = slice["metadata"]["name"];
    if (conflicts > 0) {
      --conflicts;
      slices[name]["metadata"]["resourceVersion"] = std::to_string(++rv_);  // someone else
    }
    if (!slices.count(name)) return WriteOutcome::kGone;
    if (slices[name]["metadata"]["resourceVersion"] != slice["metadata"]["resourceVersion"]) {
      return WriteOutcome::kConflict;
    }
    slices[name] = slice;
    slices[name]["metadata"]["resourceVersion"] = std::to_string(++rv_);
    return WriteOutcome::kDone;
  }
  WriteOutcome remove(const json& slice) override {
    ++writes;
    return slices.erase(slice["metadata"]["name"]) ? WriteOutcome::kDone : WriteOutcome::kGone;
  }

  std::map<std::string, json> slices;
  int lists = 0;
  int writes = 0;
  int conflicts = 0;
  bool listFails = false;

 private:
  int next_ = 0;
  uint64_t rv_ = 100;
};

json service() {
  return {{"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "u-web"}}},
          {"spec", {{"selector", {{"app", "web"}}}, {"ports", {{{"port", 80}}}}}}};
}

json pod(const std::string& name, const std::string& ip, bool ready = true) {
  return {
      {"metadata",
       {{"name", name}, {"namespace", "shop"}, {"uid", "u-" + name}, {"labels", {{"app", "web"}}}}},
      {"spec", {{"nodeName", "n1"}, {"containers", {{{"name", "c"}}}}}},
      {"status",
       {{"phase", "Running"},
        {"podIP", ip},
        {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}

TEST(ControllerSliceSync, CreatesOnceThenWritesNothingWhileNothingChanges) {
  FakeSliceApi api;
  std::vector<json> pods = {pod("a", "10.0.0.1"), pod("b", "10.0.0.2")};
  ASSERT_TRUE(syncServiceSlices(api, "shop", "web", service(), pods));
  EXPECT_EQ(api.writes, 1);
  ASSERT_EQ(api.slices.size(), 1u);
  EXPECT_EQ(api.slices.begin()->second["endpoints"].size(), 2u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(syncServiceSlices(api, "shop", "web", service(), pods));
  EXPECT_EQ(api.writes, 1);
  // The Service goes: its slices go.
  ASSERT_TRUE(syncServiceSlices(api, "shop", "web", json(), pods));
  EXPECT_TRUE(api.slices.empty());
}

TEST(ControllerSliceSync, ConflictReadsAgainAndRetries) {
  FakeSliceApi api;
  std::vector<json> pods = {pod("a", "10.0.0.1")};
  ASSERT_TRUE(syncServiceSlices(api, "shop", "web", service(), pods));
  pods[0] = pod("a", "10.0.0.1", false);
  api.conflicts = 2;
  int listsBefore = api.lists;
  ASSERT_TRUE(syncServiceSlices(api, "shop", "web", service(), pods));
  EXPECT_EQ(api.lists - listsBefore, 3);  // two conflicts, then success
  EXPECT_EQ(api.slices.begin()->second["endpoints"][0]["conditions"]["ready"], false);
  // A conflict that never ends is given up (the caller retries later).
  pods[0] = pod("a", "10.0.0.1", true);
  api.conflicts = 100;
  EXPECT_FALSE(syncServiceSlices(api, "shop", "web", service(), pods, 3));
}

TEST(ControllerSliceSync, ReadErrorsAreRetriedLater) {
  FakeSliceApi api;
  api.listFails = true;
  EXPECT_FALSE(syncServiceSlices(api, "shop", "web", service(), {pod("a", "10.0.0.1")}));
  EXPECT_EQ(api.writes, 0);
}

}  // namespace
}  // namespace petrel::controller
