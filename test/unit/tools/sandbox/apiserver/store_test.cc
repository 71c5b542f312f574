// ObjectStore: global resourceVersion, conflicts, watch replay and expiry, pagination.
#include <gtest/gtest.h>

#include "tools/sandbox/apiserver/store.h"

namespace petrel::apiserver {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json pod(const std::string& ns, const std::string& name, json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"labels", labels}}}};
}

uint64_t rvOf(const json& o) {
  return std::stoull(o["metadata"]["resourceVersion"].get<std::string>());
}

WatchFilter podsIn(const std::string& ns) {
  WatchFilter f;
  f.key = "pods";
  f.ns = ns;
  return f;
}

TEST(ApiserverStore, ResourceVersionIsGlobalAndMonotonic) {
  ObjectStore store;
  auto a = store.create("pods", pod("ns1", "a"));
  auto b = store.create("services", pod("ns1", "b"));
  ASSERT_TRUE(a.isOk());
  ASSERT_TRUE(b.isOk());
  EXPECT_LT(rvOf(*a), rvOf(*b));
  auto a2 = store.update("pods", "ns1", "a", [](const json& cur) -> Result<json> { return cur; });
  ASSERT_TRUE(a2.isOk());
  EXPECT_GT(rvOf(*a2), rvOf(*b));
  EXPECT_EQ(store.currentRv(), rvOf(*a2));
  auto gone = store.remove("pods", "ns1", "a");
  ASSERT_TRUE(gone.isOk());
  EXPECT_EQ(rvOf(*gone), rvOf(*a2) + 1);
}

TEST(ApiserverStore, CreateTwiceIsAlreadyExists) {
  ObjectStore store;
  ASSERT_TRUE(store.create("pods", pod("ns1", "a")).isOk());
  auto again = store.create("pods", pod("ns1", "a"));
  ASSERT_FALSE(again.isOk());
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  // The same name in another namespace is a different object.
  EXPECT_TRUE(store.create("pods", pod("ns2", "a")).isOk());
}

TEST(ApiserverStore, MutatorCanRefuseAStaleUpdate) {
  ObjectStore store;
  auto a = store.create("pods", pod("ns1", "a"));
  std::string staleRv = (*a)["metadata"]["resourceVersion"];
  ASSERT_TRUE(
      store.update("pods", "ns1", "a", [](const json& c) -> Result<json> { return c; }).isOk());
  auto stale = store.update("pods", "ns1", "a", [&](const json& c) -> Result<json> {
    if (c["metadata"]["resourceVersion"] != staleRv) {
      return Status(Code::kFailedPrecondition, "the object has been modified");
    }
    return c;
  });
  ASSERT_FALSE(stale.isOk());
  EXPECT_EQ(stale.status().code(), Code::kFailedPrecondition);
  auto missing =
      store.update("pods", "ns1", "nope", [](const json& c) -> Result<json> { return c; });
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
}

TEST(ApiserverStore, WatchReplaysFromResourceVersionThenGoesLive) {
  ObjectStore store;
  auto a = store.create("pods", pod("ns1", "a"));
  uint64_t from = rvOf(*a);
  ASSERT_TRUE(store.create("pods", pod("ns1", "b")).isOk());
  ASSERT_TRUE(store.create("pods", pod("ns2", "c")).isOk());      // other namespace: filtered
  ASSERT_TRUE(store.create("services", pod("ns1", "s")).isOk());  // other type: filtered
  auto w = store.watch(podsIn("ns1"), from);
  ASSERT_TRUE(w.isOk());
  auto e1 = (*w)->next(100ms);
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->type, "ADDED");
  EXPECT_EQ(e1->object["metadata"]["name"], "b");
  EXPECT_FALSE((*w)->next(20ms));
  ASSERT_TRUE(store.remove("pods", "ns1", "a").isOk());
  auto e2 = (*w)->next(100ms);
  ASSERT_TRUE(e2);
  EXPECT_EQ(e2->type, "DELETED");
  EXPECT_EQ(e2->object["metadata"]["name"], "a");
  EXPECT_EQ((*w)->bookmarkRv(), store.currentRv());
  store.unwatch(*w);
  EXPECT_TRUE((*w)->closed());
}

TEST(ApiserverStore, WatchWithoutResourceVersionStartsWithAddedEvents) {
  ObjectStore store;
  ASSERT_TRUE(store.create("pods", pod("ns1", "a")).isOk());
  auto w = store.watch(podsIn(""), std::nullopt);
  ASSERT_TRUE(w.isOk());
  auto e = (*w)->next(100ms);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, "ADDED");
  EXPECT_EQ(e->object["metadata"]["name"], "a");
}

TEST(ApiserverStore, ExpiredResourceVersionIsRefused) {
  ObjectStore store(3);
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(store.create("pods", pod("ns1", "p" + std::to_string(i))).isOk());
  auto old = store.watch(podsIn("ns1"), 1);
  ASSERT_FALSE(old.isOk());
  EXPECT_EQ(old.status().code(), Code::kUnavailable);
  EXPECT_NE(old.status().message().find("too old resource version"), std::string::npos);
  // The newest three changes are still there.
  auto recent = store.watch(podsIn("ns1"), 3);
  ASSERT_TRUE(recent.isOk());
  int n = 0;
  while ((*recent)->next(10ms)) ++n;
  EXPECT_EQ(n, 3);
}

TEST(ApiserverStore, LabelFilteredWatchTurnsModificationsIntoAddAndDelete) {
  ObjectStore store;
  ASSERT_TRUE(store.create("pods", pod("ns1", "a", {{"app", "x"}})).isOk());
  WatchFilter f = podsIn("ns1");
  f.labels = *LabelSelector::parse("app=web");
  auto w = store.watch(f, store.currentRv());
  ASSERT_TRUE(w.isOk());
  auto relabel = [&](const std::string& app) {
    return store.update("pods", "ns1", "a", [&](const json& c) -> Result<json> {
      json n = c;
      n["metadata"]["labels"]["app"] = app;
      return n;
    });
  };
  ASSERT_TRUE(relabel("web").isOk());
  ASSERT_TRUE(relabel("web").isOk());
  ASSERT_TRUE(relabel("db").isOk());
  std::vector<std::string> types;
  while (auto e = (*w)->next(20ms)) types.push_back(e->type);
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"}));
}

TEST(ApiserverStore, ListPaginatesInKeyOrderWithStableResourceVersion) {
  ObjectStore store;
  for (const char* n : {"d", "a", "c", "b", "e"})
    ASSERT_TRUE(store.create("pods", pod("ns1", n)).isOk());
  auto page1 = store.list(podsIn("ns1"), 2, "");
  ASSERT_EQ(page1.items.size(), 2u);
  EXPECT_EQ(page1.items[0]["metadata"]["name"], "a");
  EXPECT_EQ(page1.items[1]["metadata"]["name"], "b");
  EXPECT_EQ(page1.remaining, 3u);
  ASSERT_FALSE(page1.lastKey.empty());
  auto page2 = store.list(podsIn("ns1"), 2, page1.lastKey);
  ASSERT_EQ(page2.items.size(), 2u);
  EXPECT_EQ(page2.items[0]["metadata"]["name"], "c");
  auto page3 = store.list(podsIn("ns1"), 2, page2.lastKey);
  ASSERT_EQ(page3.items.size(), 1u);
  EXPECT_EQ(page3.items[0]["metadata"]["name"], "e");
  EXPECT_TRUE(page3.lastKey.empty());
  EXPECT_EQ(page3.rv, store.currentRv());
}

TEST(ApiserverStore, NamespaceContentsAreDeletedWithEvents) {
  ObjectStore store;
  ASSERT_TRUE(store.create("pods", pod("gone", "a")).isOk());
  ASSERT_TRUE(store.create("services", pod("gone", "s")).isOk());
  ASSERT_TRUE(store.create("pods", pod("kept", "b")).isOk());
  auto w = store.watch(podsIn(""), store.currentRv());
  store.removeNamespaceContents("gone");
  EXPECT_FALSE(store.get("pods", "gone", "a"));
  EXPECT_FALSE(store.get("services", "gone", "s"));
  EXPECT_TRUE(store.get("pods", "kept", "b"));
  auto e = (*w)->next(50ms);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, "DELETED");
}

TEST(ApiserverStore, SnapshotRestoresObjectsAndResourceVersion) {
  ObjectStore a;
  ASSERT_TRUE(a.create("pods", pod("ns1", "x")).isOk());
  ASSERT_TRUE(a.create("pods", pod("ns1", "y")).isOk());
  json snap = a.snapshot();
  ObjectStore b;
  ASSERT_TRUE(b.restore(snap).isOk());
  EXPECT_EQ(b.currentRv(), a.currentRv());
  EXPECT_TRUE(b.get("pods", "ns1", "y"));
  // Watches from before the restart cannot be resumed; from the restored rv they can.
  EXPECT_FALSE(b.watch(podsIn(""), 1).isOk());
  EXPECT_TRUE(b.watch(podsIn(""), b.currentRv()).isOk());
  EXPECT_FALSE(b.restore(json::array()).isOk());
}

TEST(ApiserverStore, ShutdownClosesWatches) {
  ObjectStore store;
  auto w = store.watch(podsIn(""), std::nullopt);
  ASSERT_TRUE(w.isOk());
  store.shutdown();
  EXPECT_TRUE((*w)->closed());
  EXPECT_FALSE(store.watch(podsIn(""), std::nullopt).isOk());
}

}  // namespace
}  // namespace petrel::apiserver

namespace petrel::apiserver {
namespace {

// An observer sees every committed change of its key, whichever verb made it, and restores.
TEST(ApiserverStore, ObserverSeesEveryChangeOfItsKey) {
  ObjectStore store;
  ASSERT_TRUE(store.create("pods", pod("ns1", "before")).isOk());
  std::vector<std::string> seen;
  auto name = [](const json* o) {
    return o ? (*o)["metadata"]["name"].get<std::string>() : std::string("-");
  };
  ObjectStore::Observer o;
  o.reset = [&] { seen.push_back("reset"); };
  o.change = [&](const json* before, const json* after) {
    seen.push_back(name(before) + ">" + name(after));
  };
  uint64_t id = store.observe("pods", std::move(o));
  EXPECT_EQ(seen, std::vector<std::string>{"->before"});  // replayed
  seen.clear();
  ASSERT_TRUE(store.create("pods", pod("ns1", "a")).isOk());
  ASSERT_TRUE(store.create("services", pod("ns1", "other")).isOk());  // another key
  ASSERT_TRUE(
      store.update("pods", "ns1", "a", [](const json& c) -> Result<json> { return c; }).isOk());
  ASSERT_TRUE(store.remove("pods", "ns1", "a").isOk());
  ASSERT_TRUE(store.create("pods", pod("ns2", "b")).isOk());
  store.removeNamespaceContents("ns2");
  ASSERT_TRUE(store.create("pods", pod("ns3", "c")).isOk());
  store.removeAll("pods");
  EXPECT_EQ(seen, (std::vector<std::string>{"->a", "a>a", "a>-", "->b", "b>-", "->c", "before>-",
                                            "c>-"}));
  seen.clear();
  json snap = store.snapshot();
  ASSERT_TRUE(store.create("pods", pod("ns1", "d")).isOk());
  seen.clear();
  ASSERT_TRUE(store.restore(snap).isOk());
  EXPECT_EQ(seen, std::vector<std::string>{"reset"});  // the snapshot holds no pods
  store.unobserve(id);
  seen.clear();
  ASSERT_TRUE(store.create("pods", pod("ns1", "e")).isOk());
  EXPECT_TRUE(seen.empty());
}

}  // namespace
}  // namespace petrel::apiserver
