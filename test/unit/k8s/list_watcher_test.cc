// Unit tests for the list/watch protocol against recorded apiserver answers: pagination,
// bookmarks, 410 Gone relists, mark and sweep after a reconnect, bad objects skipped.
#include "k8s/list_watcher.h"

#include <deque>
#include <thread>

#include <gtest/gtest.h>

#include "k8s/informer.h"
#include "k8s/network_policy.h"

namespace petrel::k8s {
namespace {

using nlohmann::json;

json pod(const std::string& name, const std::string& rv, const std::string& ip = "10.244.0.5") {
  return {{"kind", "Pod"},
          {"apiVersion", "v1"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"resourceVersion", rv}}},
          {"spec", {{"nodeName", "n1"}}},
          {"status", {{"podIP", ip}}}};
}

json list(std::vector<json> items, const std::string& rv, const std::string& cont = "") {
  json meta = {{"resourceVersion", rv}};
  if (!cont.empty()) meta["continue"] = cont;
  return {{"kind", "PodList"}, {"apiVersion", "v1"}, {"metadata", meta}, {"items", items}};
}

std::string event(const std::string& type, const json& obj) {
  return json{{"type", type}, {"object", obj}}.dump();
}

// Replays scripted answers and records the paths asked for.
class ScriptedTransport : public ApiTransport {
 public:
  Result<std::pair<long, std::string>> get(const std::string& path) override {
    gets.push_back(path);
    if (lists.empty()) return Status(Code::kUnavailable, "connection refused");
    auto next = lists.front();
    lists.pop_front();
    return next;
  }
  Status watch(const std::string& path, const std::function<bool(std::string_view)>& on_line,
               const std::atomic<bool>&) override {
    watch_paths.push_back(path);
    if (streams.empty()) return Status(Code::kUnavailable, "connection refused");
    auto lines = streams.front();
    streams.pop_front();
    for (const auto& l : lines) {
      if (!on_line(l)) break;
    }
    return Status::ok();
  }
  std::deque<std::pair<long, std::string>> lists;
  std::deque<std::vector<std::string>> streams;
  std::vector<std::string> gets;
  std::vector<std::string> watch_paths;
};

struct Recorder {
  std::vector<std::string> upserts, deletes;
  InformerCache<Pod>::Handlers handlers() {
    return {
        [this](const Pod& p) { upserts.push_back(p.meta.name + "@" + p.meta.resource_version); },
        [this](const Pod& p) { deletes.push_back(p.meta.name); }};
  }
};

ListWatchOptions opts() {
  ListWatchOptions o;
  o.path = "/api/v1/pods";
  o.field_selector = "spec.nodeName=n1";
  o.page_size = 2;
  return o;
}

TEST(ListWatcherTest, ListsAllPagesWithSelectorsAndContinueTokens) {
  ScriptedTransport t;
  t.lists.push_back({200, list({pod("a", "5"), pod("b", "6")}, "10", "tok1").dump()});
  t.lists.push_back({200, list({pod("c", "7")}, "10").dump()});
  Recorder rec;
  InformerCache<Pod> cache("Pod", decodePod, rec.handlers());
  ListWatcher w(t, cache, opts());
  auto rv = w.listAll();
  ASSERT_TRUE(rv) << rv.status().toString();
  EXPECT_EQ(*rv, "10");
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_TRUE(cache.synced());
  ASSERT_EQ(t.gets.size(), 2u);
  EXPECT_EQ(t.gets[0], "/api/v1/pods?limit=2&fieldSelector=spec.nodeName%3Dn1");
  EXPECT_EQ(t.gets[1], "/api/v1/pods?limit=2&continue=tok1&fieldSelector=spec.nodeName%3Dn1");
  EXPECT_EQ(w.stats().lists, 1u);
  EXPECT_EQ(w.stats().pages, 2u);
}

TEST(ListWatcherTest, WatchAppliesEventsAndFollowsBookmarks) {
  ScriptedTransport t;
  Recorder rec;
  InformerCache<Pod> cache("Pod", decodePod, rec.handlers());
  ListWatcher w(t, cache, opts());
  t.lists.push_back({200, list({pod("a", "5")}, "10").dump()});
  ASSERT_TRUE(w.listAll());
  t.streams.push_back(
      {event("ADDED", pod("b", "11")), event("MODIFIED", pod("a", "12", "10.244.0.6")),
       event("BOOKMARK", {{"kind", "Pod"}, {"metadata", {{"resourceVersion", "15"}}}}),
       event("DELETED", pod("b", "16"))});
  std::string rv = "10";
  bool gone = false;
  std::atomic<bool> stop{false};
  ASSERT_TRUE(w.watchOnce(rv, &gone, stop).isOk());
  EXPECT_FALSE(gone);
  EXPECT_EQ(rv, "16");
  EXPECT_EQ(t.watch_paths[0],
            "/api/v1/"
            "pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=10&"
            "fieldSelector=spec.nodeName%3Dn1");
  EXPECT_EQ(rec.upserts, (std::vector<std::string>{"a@5", "b@11", "a@12"}));
  EXPECT_EQ(rec.deletes, std::vector<std::string>{"b"});
  EXPECT_EQ(cache.get("default/a")->pod_ips[0].toString(), "10.244.0.6");
  EXPECT_EQ(w.stats().events, 4u);
  EXPECT_EQ(w.stats().bookmarks, 1u);
  EXPECT_EQ(w.stats().pages, 1u);
}

TEST(ListWatcherTest, GoneErrorEventAsksForARelist) {
  ScriptedTransport t;
  InformerCache<Pod> cache("Pod", decodePod);
  ListWatcher w(t, cache, opts());
  t.streams.push_back({event("ERROR", {{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}})});
  std::string rv = "3";
  bool gone = false;
  std::atomic<bool> stop{false};
  ASSERT_TRUE(w.watchOnce(rv, &gone, stop).isOk());
  EXPECT_TRUE(gone);
}

TEST(ListWatcherTest, RelistSweepsObjectsDeletedWhileAwayWithoutTouchingUnchangedOnes) {
  ScriptedTransport t;
  Recorder rec;
  InformerCache<Pod> cache("Pod", decodePod, rec.handlers());
  ListWatcher w(t, cache, opts());
  t.lists.push_back({200, list({pod("a", "5"), pod("b", "6")}, "10").dump()});
  ASSERT_TRUE(w.listAll());
  rec.upserts.clear();
  // Reconnect: b was deleted, c created, a unchanged.
  t.lists.push_back({200, list({pod("a", "5"), pod("c", "20")}, "21").dump()});
  ASSERT_TRUE(w.listAll());
  EXPECT_EQ(rec.deletes, std::vector<std::string>{"b"});
  EXPECT_EQ(rec.upserts, std::vector<std::string>{"c@20"})
      << "an unchanged object must not be re-applied";
}

TEST(ListWatcherTest, BadObjectsAreSkippedAndTheLastGoodVersionKept) {
  ScriptedTransport t;
  Recorder rec;
  InformerCache<Pod> cache("Pod", decodePod, rec.handlers());
  ListWatcher w(t, cache, opts());
  t.lists.push_back({200, list({pod("a", "5"), pod("bad", "6", "300.1.1.1")}, "10").dump()});
  ASSERT_TRUE(w.listAll());
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.rejected(), 1u);
  t.streams.push_back({event("MODIFIED", pod("a", "11", "not-an-ip"))});
  std::string rv = "10";
  bool gone = false;
  std::atomic<bool> stop{false};
  ASSERT_TRUE(w.watchOnce(rv, &gone, stop).isOk());
  EXPECT_EQ(cache.get("default/a")->meta.resource_version, "5");
  EXPECT_EQ(cache.rejected(), 2u);
}

// A hostile answer nested 100,000 levels deep once overflowed the stack when the decoded object
// was copied; the parser now drops what lies deeper than any Kubernetes object goes.
TEST(ListWatcherTest, DeeplyNestedObjectsAreCutAndRejectedNotACrash) {
  ScriptedTransport t;
  // The NetworkPolicy decoder once kept a copy of the spec: the copy is what overflowed.
  InformerCache<NetworkPolicy> cache("NetworkPolicy", decodeNetworkPolicy);
  ListWatchOptions o = opts();
  o.path = "/apis/networking.k8s.io/v1/networkpolicies";
  ListWatcher w(t, cache, o);
  auto policy = [](const std::string& name, const std::string& spec) {
    return R"({"kind":"NetworkPolicy","metadata":{"name":")" + name +
           R"(","namespace":"default","resourceVersion":"5"},"spec":)" + spec + "}";
  };
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string hostile = policy("deep", R"({"podSelector":{},"x":)" + deep + "}");
  t.lists.push_back({200, R"({"metadata":{"resourceVersion":"10"},"items":[)" +
                              policy("a", R"({"podSelector":{}})") + "," + hostile + "]}"});
  ASSERT_TRUE(w.listAll());
  EXPECT_TRUE(cache.get("default/a").has_value());
  t.streams.push_back(
      {R"({"type":"ADDED","object":)" + hostile + "}",
       R"({"type":"ADDED","object":)" + policy("b", R"({"podSelector":{}})") + "}"});
  std::string rv = "10";
  bool gone = false;
  std::atomic<bool> stop{false};
  ASSERT_TRUE(w.watchOnce(rv, &gone, stop).isOk());
  EXPECT_TRUE(cache.get("default/b").has_value());
}

TEST(ListWatcherTest, ResourceNotServedCountsAsEmptyAndSyncedWhenAllowed) {
  ScriptedTransport t;
  Recorder rec;
  InformerCache<Pod> cache("Pod", decodePod, rec.handlers());
  ListWatchOptions o = opts();
  o.absent_ok = true;
  o.absent_recheck = std::chrono::milliseconds(20);
  ListWatcher w(t, cache, o);
  t.lists.push_back({404, R"({"kind":"Status","code":404})"});
  t.lists.push_back({200, list({pod("a", "5")}, "10").dump()});
  std::atomic<bool> stop{false};
  std::thread runner([&] { w.run(stop); });
  for (int i = 0; i < 200 && !cache.get("default/a"); ++i) {
    if (i == 0) {
      while (!cache.synced()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      EXPECT_EQ(cache.size(), 0u);  // synced and empty while the CRD is missing
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  w.wake();
  runner.join();
  EXPECT_TRUE(cache.get("default/a").has_value()) << "the resource appeared but was not listed";

  // Without absent_ok a 404 is an error like any other.
  ListWatcher strict(t, cache, opts());
  t.lists.push_back({404, R"({"kind":"Status","code":404})"});
  auto r = strict.listAll();
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("404"), std::string::npos);
}

TEST(ListWatcherTest, ErrorsAndMalformedAnswersAreReported) {
  ScriptedTransport t;
  InformerCache<Pod> cache("Pod", decodePod);
  ListWatcher w(t, cache, opts());
  t.lists.push_back({403, R"({"kind":"Status","code":403})"});
  auto r = w.listAll();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  t.lists.push_back({200, "{not json"});
  EXPECT_EQ(w.listAll().status().code(), Code::kInvalidArgument);
  t.streams.push_back({"garbage"});
  std::string rv = "1";
  bool gone = false;
  std::atomic<bool> stop{false};
  EXPECT_EQ(w.watchOnce(rv, &gone, stop).code(), Code::kInvalidArgument);
  EXPECT_FALSE(cache.synced());
}

TEST(ListWatcherTest, RunRetriesUntilTheServerAnswersThenStopsOnRequest) {
  ScriptedTransport t;
  InformerCache<Pod> cache("Pod", decodePod);
  auto o = opts();
  o.backoff_base = std::chrono::milliseconds(1);
  o.backoff_cap = std::chrono::milliseconds(5);
  ListWatcher w(t, cache, o);
  t.lists.push_back({503, "{}"});
  t.lists.push_back({200, list({pod("a", "5")}, "10").dump()});
  std::atomic<bool> stop{false};
  std::thread runner([&] { w.run(stop); });
  for (int i = 0; i < 200 && !cache.synced(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  w.wake();
  runner.join();
  EXPECT_TRUE(cache.synced());
  EXPECT_GE(w.stats().errors, 1u);
}

}  // namespace
}  // namespace petrel::k8s
