// End-to-end: Petrel's Kubernetes client (k8s::ListWatcher) against the sandbox's real
// kube-apiserver (`up --nodes 0`), through petrel-test-k8s-client, which prints every page,
// watch, bookmark, ERROR event and sink call as a JSON line. Checks a paginated list (every
// object exactly once, continue tokens chained), bookmarks (the version advances, no object is
// delivered), and a watch the server ends with a 410 ERROR event (the client relists and ends
// with exactly the server's objects). Needs root, kubectl and
// build/bin/petrel-{sandbox,k8s,test-k8s-client}.
#include <signal.h>

#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "test/e2e/control_plane_fixture.h"
#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Resource versions are opaque to clients; the real server's are etcd revisions, which lets the
// test order them.
uint64_t rvNumber(const json& rv) {
  return rv.is_string() && !rv.get<std::string>().empty() ? std::stoull(rv.get<std::string>()) : 0;
}

class K8sClientE2e : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireFile(binDir() / "petrel-test-k8s-client",
                            "build it with: ninja -C build petrel-test-k8s-client"));
    ASSERT_NO_FATAL_FAILURE(startControlPlane("pe2e-k8sc"));
    ns_ = uniqueName("k8sc");
    must({"create", "namespace", ns_});
  }
  void TearDown() override {
    probe_.reset();
    ControlPlaneTest::TearDown();
  }

  // Starts the probe on this namespace's ConfigMaps labelled petrel-e2e=<label>.
  void startProbe(const std::string& label, int page_size, int watch_timeout,
                  int stop_after_pages = 0) {
    probe_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{
            (binDir() / "petrel-test-k8s-client").string(), "--kubeconfig", kubeconfig().string(),
            "--path", "/api/v1/namespaces/" + ns_ + "/configmaps", "--label-selector",
            "petrel-e2e=" + label, "--page-size", std::to_string(page_size), "--watch-timeout",
            std::to_string(watch_timeout), "--stop-after-pages", std::to_string(stop_after_pages)},
        *dir_ / "probe.log");
  }
  // Every JSON line the probe printed so far (its log also holds its stderr).
  std::vector<json> events() const {
    std::vector<json> out;
    std::istringstream in(probe_->log());
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] != '{') continue;
      json j = json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("event")) out.push_back(std::move(j));
    }
    return out;
  }
  std::vector<json> events(const std::string& kind) const {
    std::vector<json> out;
    for (auto& e : events()) {
      if (e["event"] == kind) out.push_back(e);
    }
    return out;
  }
  // Waits until `done` holds for the probe's events, up to `timeout`.
  ::testing::AssertionResult waitEvents(const std::function<bool(const std::vector<json>&)>& done,
                                        Millis timeout, const std::string& what) {
    for (auto end = Clock::now() + timeout; Clock::now() < end;
         std::this_thread::sleep_for(100ms)) {
      if (done(events())) return ::testing::AssertionSuccess();
      if (!probe_->running()) break;
    }
    return ::testing::AssertionFailure() << "the client did not get " << what << " within "
                                         << timeout.count() << " ms; its log:\n"
                                         << probe_->log();
  }
  static size_t count(const std::vector<json>& evs, const std::string& kind) {
    return std::count_if(evs.begin(), evs.end(), [&](const json& e) { return e["event"] == kind; });
  }
  // SIGTERM; returns the probe's exit line (stats and objects held).
  json stopProbe() {
    auto status = probe_->signalAndWait(SIGTERM, 10s);
    EXPECT_EQ(status, std::optional<int>(0)) << probe_->log();
    auto exits = events("exit");
    return exits.empty() ? json::object() : exits.back();
  }

  // Creates ConfigMaps <prefix>-0 .. <prefix>-(n-1) in `ns` labelled petrel-e2e=<label>, as
  // `kind: List` documents sent by `parallel` kubectl processes at once (kubectl creates a List's
  // items one request after another; here that is 10-100 requests/s per process).
  void createConfigMaps(const std::string& ns, const std::string& prefix, const std::string& label,
                        int n, int parallel = 8) {
    std::vector<std::string> docs(parallel);
    for (int p = 0; p < parallel; ++p) {
      json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}};
      for (int i = p; i < n; i += parallel) {
        list["items"].push_back({{"apiVersion", "v1"},
                                 {"kind", "ConfigMap"},
                                 {"metadata",
                                  {{"name", prefix + "-" + std::to_string(i)},
                                   {"namespace", ns},
                                   {"labels", {{"petrel-e2e", label}}}}},
                                 {"data", {{"i", std::to_string(i)}}}});
      }
      docs[p] = list.dump();
    }
    std::vector<CmdResult> results(parallel);
    std::vector<std::thread> threads;
    for (int p = 0; p < parallel; ++p) {
      threads.emplace_back([&, p] { results[p] = kubectl({"create", "-f", "-"}, docs[p], 180s); });
    }
    for (auto& t : threads) t.join();
    for (const auto& r : results) ASSERT_TRUE(r.ok()) << "kubectl create: " << r.describe();
  }
  // The server's ConfigMaps in this namespace with the label: "<ns>/<name>" -> resourceVersion.
  std::map<std::string, std::string> serverObjects(const std::string& label) {
    json list = get({"get", "configmaps", "-n", ns_, "-l", "petrel-e2e=" + label});
    std::map<std::string, std::string> out;
    EXPECT_TRUE(list.is_object()) << "kubectl get configmaps failed";
    if (!list.is_object()) return out;
    for (const auto& item : list["items"]) {
      out[ns_ + "/" + item["metadata"]["name"].get<std::string>()] =
          item["metadata"]["resourceVersion"];
    }
    return out;
  }

  pid_t componentPid(const std::string& name) {
    const json status = sandbox_->status();  // kept: a range-for over a temporary's part dangles
    for (const auto& c : status["components"]) {
      if (c["name"] == name) return c["pid"];
    }
    return 0;
  }
  // SIGKILL (no goodbye bookmark from a graceful shutdown) and `petrel-sandbox restart
  // apiserver`; returns when it answers /readyz. Its new watch cache starts at etcd's revision.
  void killAndRestartApiserver() {
    pid_t api = componentPid("apiserver");
    ASSERT_GT(api, 0) << "no apiserver in petrel-sandbox status";
    ASSERT_EQ(::kill(api, SIGKILL), 0);
    auto restart = sandbox_->cli({"restart", "apiserver"}, 180s);
    ASSERT_TRUE(restart.ok()) << restart.describe();
    bool ready = false;
    for (auto end = Clock::now() + 60s; !ready && Clock::now() < end;) {
      ready = kubectl({"get", "--raw", "/readyz"}).ok();
      if (!ready) std::this_thread::sleep_for(200ms);
    }
    ASSERT_TRUE(ready) << "the API server did not come back";
  }
  // Compacts etcd up to its current revision through its JSON gateway (etcd listens on
  // loopback, from its command line in /proc).
  void compactEtcd() {
    pid_t etcd = componentPid("etcd");
    ASSERT_GT(etcd, 0) << "no etcd in petrel-sandbox status";
    std::ifstream in("/proc/" + std::to_string(etcd) + "/cmdline");
    std::string url;
    for (std::string arg; std::getline(in, arg, '\0');) {
      if (arg.rfind("--listen-client-urls=", 0) == 0) url = arg.substr(21);
    }
    ASSERT_FALSE(url.empty()) << "etcd has no --listen-client-urls";
    CmdResult range =
        run({"curl", "-sf", "-X", "POST", url + "/v3/kv/range", "-d", R"({"key":"AA=="})"});
    ASSERT_TRUE(range.ok()) << range.describe();
    json header = json::parse(range.out, nullptr, false);
    ASSERT_TRUE(header.is_object() && header.contains("header")) << range.out;
    const std::string rev = header["header"]["revision"];
    CmdResult compact = run({"curl", "-sf", "-X", "POST", url + "/v3/kv/compaction", "-d",
                             json{{"revision", rev}, {"physical", true}}.dump()});
    ASSERT_TRUE(compact.ok()) << compact.describe();
  }

  std::string ns_;
  std::unique_ptr<BackgroundProcess> probe_;
};

// (a) 1,234 ConfigMaps listed with limit=100: 13 pages chained by their continue tokens, all at
// the first page's snapshot version, and one replace with every object exactly once.
TEST_F(K8sClientE2e, ListsInPagesChainedByContinueTokens) {
  constexpr int kObjects = 1234;
  ASSERT_NO_FATAL_FAILURE(createConfigMaps(ns_, "cm", "pages", kObjects));
  startProbe("pages", 100, 300);
  ASSERT_TRUE(waitEvents([](const auto& evs) { return count(evs, "replace") >= 1; }, 60s,
                         "its first list"));
  auto pages = events("page");
  ASSERT_EQ(pages.size(), 13u) << probe_->log();
  std::string cont;
  for (size_t i = 0; i < pages.size(); ++i) {
    SCOPED_TRACE("page " + std::to_string(i));
    EXPECT_EQ(pages[i]["continue_sent"], cont);
    EXPECT_EQ(pages[i]["items"], i + 1 < pages.size() ? 100 : kObjects % 100);
    EXPECT_EQ(pages[i]["rv"], pages[0]["rv"]) << "every page is read at the first one's snapshot";
    cont = pages[i]["continue"];
    EXPECT_EQ(cont.empty(), i + 1 == pages.size());
  }
  auto replace = events("replace").front();
  EXPECT_EQ(replace["items"], kObjects);
  EXPECT_EQ(replace["distinct"], kObjects) << "an object came twice";
  EXPECT_EQ(replace["relist"], "initial");
  EXPECT_EQ(count(events(), "upsert"), 0u) << "a list is not delivered as watch events";

  json exit = stopProbe();
  EXPECT_EQ(exit["stats"]["lists"], 1);
  EXPECT_EQ(exit["stats"]["pages"], 13);
  std::map<std::string, std::string> held = exit["objects"];
  EXPECT_EQ(held, serverObjects("pages"));
}

// (b) Bookmarks. The real server's watch cache sends one to a watch every minute and 2 s before
// its deadline, on a timer of about 1 s, once it has seen any event of the resource. Measured
// here (v1.37): with timeoutSeconds 6, 8, 10, 15, 30 a BOOKMARK came 1.2-1.9 s before the end of
// every watch (sometimes two), with 90 at 60.5 s and 88.3 s; with 5 none came. So the client
// watches with 10 s: it takes the bookmark's version, which moves past a change in another
// namespace, re-watches from it, and delivers no object for it.
TEST_F(K8sClientE2e, FollowsBookmarksWithoutDeliveringThem) {
  constexpr int kWatchTimeout = 10;
  startProbe("marks", 100, kWatchTimeout);
  ASSERT_TRUE(
      waitEvents([](const auto& evs) { return count(evs, "watch") >= 1; }, 30s, "its first watch"));
  const uint64_t list_rv = rvNumber(events("page").front()["rv"]);
  // A change elsewhere advances the ConfigMaps' version without an event for this watch.
  const std::string other = uniqueName("k8sc-other");
  must({"create", "namespace", other});
  json elsewhere = json::parse(
      kubectl({"create", "configmap", "elsewhere", "-n", other, "-o", "json"}).out, nullptr, false);
  ASSERT_TRUE(elsewhere.is_object());
  const uint64_t elsewhere_rv = rvNumber(elsewhere["metadata"]["resourceVersion"]);
  ASSERT_GT(elsewhere_rv, list_rv);

  ASSERT_TRUE(waitEvents(
      [&](const auto& evs) {
        for (const auto& e : evs) {
          if (e["event"] == "bookmark" && rvNumber(e["rv"]) >= elsewhere_rv) return true;
        }
        return false;
      },
      Millis(3 * kWatchTimeout * 1000), "a bookmark past the other namespace's change"));
  // A watch that runs out after a bookmark: the next one starts from the bookmark's version.
  ASSERT_TRUE(waitEvents(
      [](const auto& evs) {
        bool after_bookmark = false;
        for (const auto& e : evs) {
          if (e["event"] == "watch" && after_bookmark) return true;
          if (e["event"] != "watch_end") after_bookmark = e["event"] == "bookmark";
        }
        return false;
      },
      Millis(3 * kWatchTimeout * 1000), "a re-watch from a bookmark"));
  must({"create", "configmap", "here", "-n", ns_});  // not labelled: not this client's
  json here = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata",
                {{"name", "marked"}, {"namespace", ns_}, {"labels", {{"petrel-e2e", "marks"}}}}}};
  must({"create", "-f", "-"}, here.dump());
  ASSERT_TRUE(waitEvents([](const auto& evs) { return count(evs, "upsert") >= 1; }, 10s,
                         "the labelled ConfigMap"));
  std::this_thread::sleep_for(std::chrono::seconds(kWatchTimeout));

  auto evs = events();
  // Each watch after the first starts from the version of the last bookmark or event before it.
  std::string last_rv;
  bool last_from_bookmark = false;
  int watches = 0, rewatch_from_bookmark = 0;
  std::vector<int64_t> bookmark_after_watch_ms;
  int64_t watch_start = 0;
  for (const auto& e : evs) {
    if (e["event"] == "page" || e["event"] == "upsert") {
      last_rv = e["rv"];
      last_from_bookmark = false;
    } else if (e["event"] == "bookmark") {
      last_rv = e["rv"];
      last_from_bookmark = true;
      bookmark_after_watch_ms.push_back(e["t_ms"].get<int64_t>() - watch_start);
    } else if (e["event"] == "watch") {
      EXPECT_EQ(e["rv"], last_rv) << "watch #" << watches << " did not resume where it was";
      ++watches;
      rewatch_from_bookmark += last_from_bookmark;
      watch_start = e["t_ms"];
    }
  }
  EXPECT_GE(rewatch_from_bookmark, 1);
  for (int64_t ms : bookmark_after_watch_ms) {
    // About 2 s before the deadline, on the cacher's ~1 s bookmark timer.
    EXPECT_GE(ms, (kWatchTimeout - 4) * 1000) << "bookmark earlier than expected";
    EXPECT_LE(ms, kWatchTimeout * 1000 + 500) << "bookmark after the watch's deadline";
  }
  auto upserts = events("upsert");
  ASSERT_EQ(upserts.size(), 1u) << "only the labelled ConfigMap is an object: " << probe_->log();
  EXPECT_EQ(upserts[0]["name"], ns_ + "/marked");

  json exit = stopProbe();
  const json& stats = exit["stats"];
  EXPECT_EQ(stats["bookmarks"], count(evs, "bookmark"));
  EXPECT_EQ(stats["events"].get<uint64_t>(), stats["bookmarks"].get<uint64_t>() + 1)
      << "bookmarks plus the one object";
  EXPECT_GE(rvNumber(stats["resource_version"]), elsewhere_rv);
  EXPECT_EQ(stats["relists_after_gone"], 0);
  EXPECT_EQ(stats["lists"], 1);
  std::map<std::string, std::string> held = exit["objects"];
  EXPECT_EQ(held, serverObjects("marks"));
  kubectl({"delete", "namespace", other, "--wait=false"});
}

// (c) The real server ends a watch with a 410 ERROR event when the client's version is older than
// its watch cache. Provoked the way an API server restart does it: the client (stopped with
// SIGSTOP, so no bookmark moves it on) holds the version of its list; changes it does not watch
// (unlabelled ConfigMaps) advance etcd past it; the API server is killed and started again, and
// its new watch cache begins at etcd's current revision. Changes to watched objects follow, then
// the client resumes: its re-watch gets "too old resource version" as an ERROR event, it relists,
// and it ends with exactly the server's objects and versions.
TEST_F(K8sClientE2e, RelistsWhenTheServerSaysItsWatchIsTooOld) {
  ASSERT_NO_FATAL_FAILURE(createConfigMaps(ns_, "cm", "gone", 20, 1));
  startProbe("gone", 100, 300);
  ASSERT_TRUE(
      waitEvents([](const auto& evs) { return count(evs, "watch") >= 1; }, 30s, "its first watch"));
  ASSERT_EQ(::kill(probe_->pid(), SIGSTOP), 0);
  // Not this client's objects: etcd's revision moves past the client's version, no event for it.
  ASSERT_NO_FATAL_FAILURE(createConfigMaps(ns_, "other", "not-watched", 50, 1));

  ASSERT_NO_FATAL_FAILURE(killAndRestartApiserver());
  // Changes to watched objects while the client is away: 5 new, 5 deleted, 5 changed.
  ASSERT_NO_FATAL_FAILURE(createConfigMaps(ns_, "late", "gone", 5, 1));
  for (int i = 0; i < 5; ++i) must({"delete", "configmap", "-n", ns_, "cm-" + std::to_string(i)});
  for (int i = 5; i < 10; ++i) {
    must({"label", "configmap", "-n", ns_, "cm-" + std::to_string(i), "changed=yes"});
  }
  ASSERT_EQ(::kill(probe_->pid(), SIGCONT), 0);

  ASSERT_TRUE(
      waitEvents([](const auto& evs) { return count(evs, "replace") >= 2; }, 60s, "a relist"));
  auto errors = events("watch_error");
  ASSERT_FALSE(errors.empty()) << probe_->log();
  EXPECT_EQ(errors.back()["code"], 410);
  EXPECT_EQ(errors.back()["reason"], "Expired");
  auto replaces = events("replace");
  EXPECT_EQ(replaces.back()["items"], 20);
  EXPECT_EQ(replaces.back()["relist"].get<std::string>().rfind("gone: ", 0), 0u)
      << "the relist was not asked for by the 410: " << replaces.back().dump();
  std::this_thread::sleep_for(1s);  // a watch from the relist's version, nothing more to get

  json exit = stopProbe();
  EXPECT_EQ(exit["stats"]["relists_after_gone"], 1);
  EXPECT_EQ(exit["stats"]["lists"], 2);
  std::map<std::string, std::string> held = exit["objects"];
  auto server = serverObjects("gone");
  EXPECT_EQ(server.size(), 20u);
  EXPECT_EQ(held, server) << "the client's objects (name -> resourceVersion) differ from "
                             "kubectl's";
  std::cout << "[ info ] the server's ERROR event: " << errors.back().dump() << "\n";
}

// (d) A continue token that expires mid-list. The real server (v1.37) serves continued pages from
// its watch cache's snapshots, so compacting etcd alone does not expire a token; the snapshots go
// with the API server. So: the client lists with limit=1 and stops itself after its third page;
// etcd is compacted past the token's version and the API server restarted; the next page is a 410
// Expired answer, and the client starts the list over and ends with every object once.
TEST_F(K8sClientE2e, StartsTheListOverWhenAContinueTokenExpires) {
  constexpr int kObjects = 600;
  ASSERT_TRUE(requireTool("curl"));
  ASSERT_NO_FATAL_FAILURE(createConfigMaps(ns_, "cm", "cont", kObjects));
  // The client stops itself after its third page, between two requests (a request in flight
  // across the restart would only time out).
  startProbe("cont", 1, 300, 3);
  ASSERT_TRUE(waitEvents([](const auto& evs) { return count(evs, "stopping") >= 1; }, 30s,
                         "its third page"));
  std::this_thread::sleep_for(200ms);                     // it has stopped
  must({"create", "configmap", "unwatched", "-n", ns_});  // etcd's revision moves on
  ASSERT_NO_FATAL_FAILURE(compactEtcd());
  ASSERT_NO_FATAL_FAILURE(killAndRestartApiserver());
  ASSERT_EQ(::kill(probe_->pid(), SIGCONT), 0);

  ASSERT_TRUE(waitEvents([](const auto& evs) { return count(evs, "replace") >= 1; }, 120s,
                         "a complete list"));
  auto list_errors = events("list_error");
  ASSERT_FALSE(list_errors.empty()) << probe_->log();
  EXPECT_EQ(list_errors.front()["code"], 410) << list_errors.front().dump();
  EXPECT_EQ(list_errors.front()["reason"], "Expired");
  EXPECT_FALSE(list_errors.front()["continue_sent"].get<std::string>().empty());
  auto replaces = events("replace");
  ASSERT_EQ(replaces.size(), 1u) << "the partial list must not reach the sink";
  EXPECT_EQ(replaces[0]["items"], kObjects);
  EXPECT_EQ(replaces[0]["distinct"], kObjects);
  // The list after the 410 starts from the beginning.
  auto evs = events();
  auto err_at = std::find_if(evs.begin(), evs.end(),
                             [](const json& e) { return e["event"] == "list_error"; });
  auto next_page =
      std::find_if(err_at, evs.end(), [](const json& e) { return e["event"] == "page"; });
  ASSERT_NE(next_page, evs.end());
  EXPECT_EQ((*next_page)["continue_sent"], "");

  json exit = stopProbe();
  EXPECT_EQ(exit["stats"]["lists"], 1);
  EXPECT_GE(exit["stats"]["errors"], 1);
  std::map<std::string, std::string> held = exit["objects"];
  EXPECT_EQ(held, serverObjects("cont"));
  std::cout << "[ info ] the server's answer to the old continue token: "
            << list_errors.front().dump() << "\n";
}

}  // namespace
}  // namespace petrel::e2e
