// The API handler driven directly (no sockets): auth, discovery, verbs, validation errors,
// optimistic concurrency, patches, pagination, CRDs, watch expiry, graceful pod deletion, the
// binding subresource, status patches, and hostile input.
#include <gtest/gtest.h>

#include <ctime>
#include <random>

#include "tools/sandbox/apiserver/admission.h"
#include "tools/sandbox/apiserver/handler.h"
#include "tools/sandbox/apiserver/patch.h"

namespace petrel::apiserver {
namespace {

using nlohmann::json;

class ApiserverHandler : public ::testing::Test {
 protected:
  ApiserverHandler()
      : store_(50), handler_(store_, registry_, HandlerOptions{"secret", "10.96.0.0/16"}) {
    handler_.bootstrap();
  }

  Response call(const std::string& method, const std::string& path, const std::string& body = "",
                std::map<std::string, std::string> query = {},
                const std::string& contentType = "application/json") {
    Request r;
    r.method = method;
    r.path = path;
    r.query = std::move(query);
    r.headers["authorization"] = "Bearer secret";
    r.headers["content-type"] = contentType;
    r.body = body;
    return handler_.handle(r);
  }
  json callJson(const std::string& method, const std::string& path, const json& body = json(),
                std::map<std::string, std::string> query = {}, int* code = nullptr,
                const std::string& contentType = "application/json") {
    Response r =
        call(method, path, body.is_null() ? "" : body.dump(), std::move(query), contentType);
    if (code) *code = r.status;
    return json::parse(r.body, nullptr, false);
  }
  json createPod(const std::string& ns, const std::string& name, json labels = json::object(),
                 const std::string& node = "node-a") {
    int code = 0;
    json p = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"labels", labels}}},
              {"spec", {{"nodeName", node}, {"containers", {{{"name", "c"}, {"image", "i"}}}}}}};
    json out = callJson("POST", "/api/v1/namespaces/" + ns + "/pods", p, {}, &code);
    EXPECT_EQ(code, 201) << out.dump();
    return out;
  }

  ObjectStore store_;
  Registry registry_;
  Handler handler_;
};

TEST_F(ApiserverHandler, RequestsWithoutTheTokenGet401Status) {
  Request r;
  r.method = "GET";
  r.path = "/api/v1/pods";
  Response resp = handler_.handle(r);
  EXPECT_EQ(resp.status, 401);
  json s = json::parse(resp.body);
  EXPECT_EQ(s["kind"], "Status");
  EXPECT_EQ(s["reason"], "Unauthorized");
  r.headers["authorization"] = "Bearer wrong";
  EXPECT_EQ(handler_.handle(r).status, 401);
  r.path = "/healthz";
  EXPECT_EQ(handler_.handle(r).status, 200);
}

TEST_F(ApiserverHandler, DiscoveryListsResourcesWithShortNames) {
  json v1 = callJson("GET", "/api/v1");
  ASSERT_EQ(v1["kind"], "APIResourceList");
  std::map<std::string, json> byName;
  for (const auto& r : v1["resources"]) byName[r["name"]] = r;
  EXPECT_EQ(byName["pods"]["shortNames"], json({"po"}));
  EXPECT_EQ(byName["services"]["shortNames"], json({"svc"}));
  EXPECT_EQ(byName["nodes"]["namespaced"], false);
  EXPECT_TRUE(byName.count("pods/status"));
  json groups = callJson("GET", "/apis");
  std::set<std::string> names;
  for (const auto& g : groups["groups"]) names.insert(g["name"]);
  for (const char* g :
       {"discovery.k8s.io", "networking.k8s.io", "coordination.k8s.io", "apiextensions.k8s.io"}) {
    EXPECT_TRUE(names.count(g)) << g;
  }
  json np = callJson("GET", "/apis/networking.k8s.io/v1");
  EXPECT_EQ(np["resources"][0]["shortNames"], json({"netpol"}));
  EXPECT_EQ(call("GET", "/apis/petrel.io/v1alpha1").status, 404);
  EXPECT_EQ(callJson("GET", "/version")["major"], "1");
}

TEST_F(ApiserverHandler, CreateFillsMetadataAndRejectsDuplicates) {
  json p = createPod("default", "web");
  EXPECT_EQ(p["metadata"]["namespace"], "default");
  EXPECT_FALSE(p["metadata"]["uid"].get<std::string>().empty());
  EXPECT_FALSE(p["metadata"]["creationTimestamp"].get<std::string>().empty());
  EXPECT_EQ(p["status"]["phase"], "Pending");
  int code = 0;
  json again = callJson(
      "POST", "/api/v1/namespaces/default/pods",
      {{"metadata", {{"name", "web"}}}, {"spec", {{"containers", {{{"name", "c"}}}}}}}, {}, &code);
  EXPECT_EQ(code, 409);
  EXPECT_EQ(again["reason"], "AlreadyExists");
  EXPECT_EQ(again["message"], "pods \"web\" already exists");
  json gen = callJson("POST", "/api/v1/namespaces/default/configmaps",
                      {{"metadata", {{"generateName", "cfg-"}}}}, {}, &code);
  EXPECT_EQ(code, 201);
  EXPECT_EQ(gen["metadata"]["name"].get<std::string>().rfind("cfg-", 0), 0u);
  EXPECT_EQ(gen["metadata"]["name"].get<std::string>().size(), 9u);
}

TEST_F(ApiserverHandler, ProtobufBodiesGet415NotAJsonParseError) {
  Response r = call("POST", "/api/v1/namespaces", std::string("k8s\0\n\x0f", 6), {},
                    "application/vnd.kubernetes.protobuf");
  EXPECT_EQ(r.status, 415);
  json status = json::parse(r.body, nullptr, false);
  EXPECT_EQ(status["reason"], "UnsupportedMediaType");
  EXPECT_NE(status["message"].get<std::string>().find("kubectl create -f"), std::string::npos);
  Response put =
      call("PUT", "/api/v1/namespaces/default", "k8s", {}, "application/vnd.kubernetes.protobuf");
  EXPECT_EQ(put.status, 415);
}

TEST_F(ApiserverHandler, ValidationErrorsArePreciseStatusObjects) {
  int code = 0;
  json s = callJson("POST", "/api/v1/namespaces/default/configmaps", {{"metadata", json::object()}},
                    {}, &code);
  EXPECT_EQ(code, 422);
  EXPECT_EQ(s["reason"], "Invalid");
  EXPECT_NE(s["message"].get<std::string>().find("name or generateName is required"),
            std::string::npos);
  s = callJson("POST", "/api/v1/namespaces/default/pods",
               {{"kind", "Service"}, {"metadata", {{"name", "x"}}}}, {}, &code);
  EXPECT_EQ(code, 400);
  EXPECT_EQ(s["message"], "the kind in the data (Service) does not match the expected kind (Pod)");
  s = callJson("POST", "/api/v1/namespaces/default/pods",
               {{"apiVersion", "apps/v1"}, {"metadata", {{"name", "x"}}}}, {}, &code);
  EXPECT_EQ(code, 400);
  s = callJson("POST", "/api/v1/namespaces/default/pods", {{"metadata", {{"name", "x"}}}}, {},
               &code);
  EXPECT_EQ(code, 422);
  EXPECT_EQ(s["message"], "Pod \"x\" is invalid: spec.containers: Required value");
  s = callJson("POST", "/api/v1/namespaces/default/configmaps",
               {{"metadata", {{"name", "Bad_Name"}}}}, {}, &code);
  EXPECT_EQ(code, 422);
  Response r = call("POST", "/api/v1/namespaces/default/configmaps", "{\"metadata\": {");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(json::parse(r.body)["message"].get<std::string>().find("invalid JSON"),
            std::string::npos);
  s = callJson("POST", "/api/v1/namespaces/nope/configmaps", {{"metadata", {{"name", "a"}}}}, {},
               &code);
  EXPECT_EQ(code, 404);
  EXPECT_EQ(s["message"], "namespaces \"nope\" not found");
  s = callJson("POST", "/api/v1/namespaces/default/configmaps",
               {{"metadata", {{"name", "a"}, {"labels", {{"x", 1}}}}}}, {}, &code);
  EXPECT_EQ(code, 400);
}

TEST_F(ApiserverHandler, StaleUpdateIsConflict) {
  json p = createPod("default", "web");
  json v1 = p;
  v1["metadata"]["labels"]["v"] = "1";
  int code = 0;
  json updated = callJson("PUT", "/api/v1/namespaces/default/pods/web", v1, {}, &code);
  ASSERT_EQ(code, 200) << updated.dump();
  EXPECT_NE(updated["metadata"]["resourceVersion"], p["metadata"]["resourceVersion"]);
  json stale = p;
  stale["metadata"]["labels"]["v"] = "2";
  json s = callJson("PUT", "/api/v1/namespaces/default/pods/web", stale, {}, &code);
  EXPECT_EQ(code, 409);
  EXPECT_EQ(s["reason"], "Conflict");
  EXPECT_NE(s["message"].get<std::string>().find("the object has been modified"),
            std::string::npos);
  // A PUT to the main resource keeps the stored status; /status changes only the status.
  json withStatus = updated;
  withStatus["status"] = {{"phase", "Running"}, {"podIP", "10.244.0.9"}};
  json kept = callJson("PUT", "/api/v1/namespaces/default/pods/web", withStatus, {}, &code);
  EXPECT_EQ(kept["status"]["phase"], "Pending");
  withStatus["metadata"]["resourceVersion"] = kept["metadata"]["resourceVersion"];
  json st = callJson("PUT", "/api/v1/namespaces/default/pods/web/status", withStatus, {}, &code);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(st["status"]["phase"], "Running");
}

TEST_F(ApiserverHandler, MergeAndStrategicPatches) {
  int code = 0;
  json svc =
      callJson("POST", "/api/v1/namespaces/default/services",
               {{"metadata", {{"name", "web"}}},
                {"spec",
                 {{"selector", {{"app", "web"}}},
                  {"ports", {{{"name", "http"}, {"port", 80}}, {{"name", "m"}, {"port", 9090}}}}}}},
               {}, &code);
  ASSERT_EQ(code, 201) << svc.dump();
  EXPECT_EQ(svc["spec"]["clusterIP"], "10.96.0.10");
  EXPECT_EQ(svc["spec"]["ports"][0]["targetPort"], 80);
  json merged = callJson("PATCH", "/api/v1/namespaces/default/services/web",
                         {{"metadata", {{"labels", {{"a", "b"}}}}}}, {}, &code,
                         "application/merge-patch+json");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(merged["metadata"]["labels"]["a"], "b");
  // kubectl apply's shape: change one port by merge key, delete another, keep the order.
  json smp = {{"spec",
               {{"$setElementOrder/ports", {{{"port", 8080}}}},
                {"ports",
                 {{{"port", 8080}, {"name", "http"}},
                  {{"$patch", "delete"}, {"port", 80}},
                  {{"$patch", "delete"}, {"port", 9090}}}}}}};
  json patched = callJson("PATCH", "/api/v1/namespaces/default/services/web", smp, {}, &code,
                          "application/strategic-merge-patch+json");
  ASSERT_EQ(code, 200) << patched.dump();
  ASSERT_EQ(patched["spec"]["ports"].size(), 1u);
  EXPECT_EQ(patched["spec"]["ports"][0]["port"], 8080);
  EXPECT_EQ(patched["spec"]["clusterIP"], "10.96.0.10");
  json jp = callJson("PATCH", "/api/v1/namespaces/default/services/web",
                     json::array({{{"op", "add"}, {"path", "/metadata/labels/c"}, {"value", "d"}}}),
                     {}, &code, "application/json-patch+json");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(jp["metadata"]["labels"]["c"], "d");
  EXPECT_EQ(call("PATCH", "/api/v1/namespaces/default/services/web", "{}", {},
                 "application/apply-patch+yaml")
                .status,
            415);
  json stale = callJson("PATCH", "/api/v1/namespaces/default/services/web",
                        {{"metadata", {{"resourceVersion", "1"}}}}, {}, &code,
                        "application/merge-patch+json");
  EXPECT_EQ(code, 409);
}

TEST_F(ApiserverHandler, ListSelectorsAndPagination) {
  createPod("default", "a", {{"app", "web"}}, "node-a");
  createPod("default", "b", {{"app", "web"}}, "node-b");
  createPod("default", "c", {{"app", "db"}}, "node-a");
  createPod("kube-system", "d", {{"app", "web"}}, "node-a");
  int code = 0;
  json l = callJson("GET", "/api/v1/pods", json(), {{"labelSelector", "app=web"}}, &code);
  EXPECT_EQ(l["kind"], "PodList");
  EXPECT_EQ(l["items"].size(), 3u);
  EXPECT_FALSE(l["metadata"]["resourceVersion"].get<std::string>().empty());
  l = callJson("GET", "/api/v1/namespaces/default/pods", json(),
               {{"fieldSelector", "spec.nodeName=node-a"}});
  EXPECT_EQ(l["items"].size(), 2u);
  json bad = callJson("GET", "/api/v1/pods", json(), {{"labelSelector", "app in (web"}}, &code);
  EXPECT_EQ(code, 400);
  EXPECT_EQ(bad["kind"], "Status");
  callJson("GET", "/api/v1/services", json(), {{"fieldSelector", "spec.nodeName=x"}}, &code);
  EXPECT_EQ(code, 400);

  std::vector<std::string> names;
  std::map<std::string, std::string> q = {{"limit", "1"}};
  std::string rv;
  for (int i = 0; i < 10; ++i) {
    json page = callJson("GET", "/api/v1/pods", json(), q, &code);
    ASSERT_EQ(code, 200);
    for (const auto& it : page["items"]) names.push_back(it["metadata"]["name"]);
    if (rv.empty()) rv = page["metadata"]["resourceVersion"];
    EXPECT_EQ(page["metadata"]["resourceVersion"], rv);
    if (!page["metadata"].contains("continue")) break;
    q["continue"] = page["metadata"]["continue"];
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d"}));
  callJson("GET", "/api/v1/pods", json(), {{"continue", "zz"}}, &code);
  EXPECT_EQ(code, 400);
  // A continue token from before the retained window (50 changes here) has expired.
  std::string token =
      callJson("GET", "/api/v1/pods", json(), {{"limit", "1"}})["metadata"]["continue"];
  for (int i = 0; i < 60; ++i) createPod("kube-system", "filler" + std::to_string(i));
  json gone = callJson("GET", "/api/v1/pods", json(), {{"limit", "1"}, {"continue", token}}, &code);
  EXPECT_EQ(code, 410);
  EXPECT_EQ(gone["reason"], "Expired");
  callJson("GET", "/api/v1/pods", json(), {{"limit", "-1"}}, &code);
  EXPECT_EQ(code, 400);
}

TEST_F(ApiserverHandler, WatchFromExpiredResourceVersionGives410Event) {
  for (int i = 0; i < 60; ++i) createPod("default", "p" + std::to_string(i));
  Response r = call("GET", "/api/v1/pods", "", {{"watch", "1"}, {"resourceVersion", "2"}});
  ASSERT_TRUE(r.watch);
  ASSERT_TRUE(r.watch->initialError);
  EXPECT_EQ((*r.watch->initialError)["code"], 410);
  EXPECT_EQ((*r.watch->initialError)["reason"], "Expired");
  Response ok = call("GET", "/api/v1/pods", "",
                     {{"watch", "true"},
                      {"resourceVersion", std::to_string(store_.currentRv())},
                      {"allowWatchBookmarks", "true"},
                      {"timeoutSeconds", "5"}});
  ASSERT_TRUE(ok.watch);
  ASSERT_TRUE(ok.watch->watcher);
  EXPECT_TRUE(ok.watch->bookmarks);
  EXPECT_EQ(ok.watch->timeout.count(), 5);
  createPod("default", "late");
  auto ev = ok.watch->watcher->next(std::chrono::milliseconds(100));
  ASSERT_TRUE(ev);
  json line = json::parse(handler_.encodeEvent(*ok.watch, *ev));
  EXPECT_EQ(line["type"], "ADDED");
  EXPECT_EQ(line["object"]["metadata"]["name"], "late");
  json bm = json::parse(handler_.encodeBookmark(*ok.watch, 77));
  EXPECT_EQ(bm["type"], "BOOKMARK");
  EXPECT_EQ(bm["object"]["metadata"]["resourceVersion"], "77");
  handler_.releaseWatch(ok.watch->watcher);
}

TEST_F(ApiserverHandler, CrdServesItsGroupUntilDeleted) {
  json crd = {
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", {{"name", "identities.petrel.io"}}},
      {"spec",
       {{"group", "petrel.io"},
        {"scope", "Cluster"},
        {"names", {{"plural", "identities"}, {"singular", "identity"}, {"kind", "Identity"}}},
        {"versions", {{{"name", "v1alpha1"}, {"served", true}, {"storage", true}}}}}}};
  int code = 0;
  callJson("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, {}, &code);
  ASSERT_EQ(code, 201);
  EXPECT_EQ(call("GET", "/apis/petrel.io/v1alpha1").status, 200);
  json obj = {{"apiVersion", "petrel.io/v1alpha1"},
              {"kind", "Identity"},
              {"metadata", {{"name", "id-1001"}}},
              {"spec", {{"labels", {{"app", "web"}}}}}};
  callJson("POST", "/apis/petrel.io/v1alpha1/identities", obj, {}, &code);
  EXPECT_EQ(code, 201);
  callJson("POST", "/apis/petrel.io/v1alpha1/identities", obj, {}, &code);
  EXPECT_EQ(code, 409);
  EXPECT_EQ(callJson("GET", "/apis/petrel.io/v1alpha1/identities/id-1001")["spec"]["labels"]["app"],
            "web");
  json badCrd = crd;
  badCrd["metadata"]["name"] = "wrong.petrel.io";
  callJson("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", badCrd, {}, &code);
  EXPECT_EQ(code, 422);
  callJson("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/identities.petrel.io",
           json(), {}, &code);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(call("GET", "/apis/petrel.io/v1alpha1/identities").status, 404);
}

TEST_F(ApiserverHandler, DeletingANamespaceDeletesItsContents) {
  int code = 0;
  callJson("POST", "/api/v1/namespaces", {{"metadata", {{"name", "shop"}}}}, {}, &code);
  ASSERT_EQ(code, 201);
  json ns = callJson("GET", "/api/v1/namespaces/shop");
  EXPECT_EQ(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "shop");
  createPod("shop", "a");
  callJson("DELETE", "/api/v1/namespaces/shop", json(), {}, &code);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/shop/pods/a").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/shop").status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/namespaces/default").status, 403);
  json s = callJson("DELETE", "/api/v1/namespaces/default/pods/none", json(), {}, &code);
  EXPECT_EQ(code, 404);
  EXPECT_EQ(s["message"], "pods \"none\" not found");
}

// The pod's metadata.deletionTimestamp as seconds from now.
int64_t secondsUntilDeletion(const json& pod) {
  auto t = parseTimestamp(pod["metadata"]["deletionTimestamp"].get<std::string>());
  EXPECT_TRUE(t.has_value()) << pod.dump();
  return t ? static_cast<int64_t>(*t - std::time(nullptr)) : -1;
}

TEST_F(ApiserverHandler, DeletingABoundPodIsGracefulUntilGracePeriodZero) {
  createPod("default", "web");
  Response w = call("GET", "/api/v1/namespaces/default/pods", "",
                    {{"watch", "1"}, {"resourceVersion", std::to_string(store_.currentRv())}});
  ASSERT_TRUE(w.watch && w.watch->watcher);
  int code = 0;
  json marked = callJson("DELETE", "/api/v1/namespaces/default/pods/web", json(), {}, &code);
  ASSERT_EQ(code, 200) << marked.dump();
  EXPECT_EQ(marked["kind"], "Pod");
  EXPECT_EQ(marked["metadata"]["deletionGracePeriodSeconds"], 30);
  EXPECT_NEAR(secondsUntilDeletion(marked), 30, 2);
  auto ev = w.watch->watcher->next(std::chrono::milliseconds(100));
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->type, "MODIFIED");
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/pods/web").status, 200);

  // A longer grace period changes nothing (not even the resourceVersion); a shorter one wins.
  json again = callJson("DELETE", "/api/v1/namespaces/default/pods/web",
                        {{"kind", "DeleteOptions"}, {"gracePeriodSeconds", 60}}, {}, &code);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(again["metadata"]["resourceVersion"], marked["metadata"]["resourceVersion"]);
  EXPECT_EQ(again["metadata"]["deletionGracePeriodSeconds"], 30);
  json shorter = callJson("DELETE", "/api/v1/namespaces/default/pods/web",
                          {{"gracePeriodSeconds", 5}}, {}, &code);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(shorter["metadata"]["deletionGracePeriodSeconds"], 5);
  EXPECT_NEAR(secondsUntilDeletion(shorter), 5, 2);

  // Updates, patches and status writes keep the deletion marks (the kubelet reports meanwhile).
  json st =
      callJson("PATCH", "/api/v1/namespaces/default/pods/web/status",
               {{"status", {{"phase", "Running"}}}}, {}, &code, "application/merge-patch+json");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(st["metadata"]["deletionTimestamp"], shorter["metadata"]["deletionTimestamp"]);
  json put = st;
  put["metadata"].erase("deletionTimestamp");
  put["metadata"].erase("deletionGracePeriodSeconds");
  put["metadata"]["labels"]["x"] = "y";
  json kept = callJson("PUT", "/api/v1/namespaces/default/pods/web", put, {}, &code);
  EXPECT_EQ(code, 200) << kept.dump();
  EXPECT_EQ(kept["metadata"]["deletionTimestamp"], shorter["metadata"]["deletionTimestamp"]);
  EXPECT_EQ(kept["metadata"]["deletionGracePeriodSeconds"], 5);

  // What the kubelet (and kubectl delete --grace-period=0 --force) sends removes it.
  callJson("DELETE", "/api/v1/namespaces/default/pods/web",
           {{"kind", "DeleteOptions"},
            {"apiVersion", "v1"},
            {"gracePeriodSeconds", 0},
            {"propagationPolicy", "Background"}},
           {}, &code);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/pods/web").status, 404);
  std::vector<std::string> types;
  while (auto e = w.watch->watcher->next(std::chrono::milliseconds(50))) types.push_back(e->type);
  EXPECT_EQ(types, (std::vector<std::string>{"MODIFIED", "MODIFIED", "MODIFIED", "DELETED"}));
  handler_.releaseWatch(w.watch->watcher);
  callJson("DELETE", "/api/v1/namespaces/default/pods/web", {{"gracePeriodSeconds", "x"}}, {},
           &code);
  EXPECT_EQ(code, 400);
}

TEST_F(ApiserverHandler, PodGracePeriodComesFromSpecAndIsZeroForUnboundOrFinishedPods) {
  int code = 0;
  json p = {{"metadata", {{"name", "slow"}}},
            {"spec",
             {{"nodeName", "node-a"},
              {"terminationGracePeriodSeconds", 7},
              {"containers", {{{"name", "c"}}}}}}};
  callJson("POST", "/api/v1/namespaces/default/pods", p, {}, &code);
  ASSERT_EQ(code, 201);
  json marked = callJson("DELETE", "/api/v1/namespaces/default/pods/slow");
  EXPECT_EQ(marked["metadata"]["deletionGracePeriodSeconds"], 7);
  // The query parameter works like DeleteOptions.
  EXPECT_EQ(
      call("DELETE", "/api/v1/namespaces/default/pods/slow", "", {{"gracePeriodSeconds", "0"}})
          .status,
      200);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/pods/slow").status, 404);

  createPod("default", "unbound", json::object(), "");
  callJson("DELETE", "/api/v1/namespaces/default/pods/unbound", json(), {}, &code);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/pods/unbound").status, 404);

  createPod("default", "done");
  callJson("PATCH", "/api/v1/namespaces/default/pods/done/status",
           {{"status", {{"phase", "Succeeded"}}}}, {}, &code, "application/merge-patch+json");
  ASSERT_EQ(code, 200);
  callJson("DELETE", "/api/v1/namespaces/default/pods/done", json(), {}, &code);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/pods/done").status, 404);

  // deletecollection marks bound pods the same way; other kinds go at once.
  createPod("default", "a");
  createPod("default", "b", json::object(), "");
  json list = callJson("DELETE", "/api/v1/namespaces/default/pods", json(), {}, &code);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(list["items"].size(), 2u);
  EXPECT_FALSE(callJson("GET", "/api/v1/namespaces/default/pods/a")["metadata"]
                   .value("deletionTimestamp", "")
                   .empty());
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/pods/b").status, 404);
  // Namespace deletion still takes terminating pods with it.
  callJson("POST", "/api/v1/namespaces", {{"metadata", {{"name", "gone"}}}}, {}, &code);
  createPod("gone", "c");
  callJson("DELETE", "/api/v1/namespaces/gone/pods/c");
  callJson("DELETE", "/api/v1/namespaces/gone", json(), {}, &code);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/gone/pods/c").status, 404);
}

TEST_F(ApiserverHandler, BindingSetsTheNodeOfAnUnboundPodOnce) {
  int code = 0;
  callJson("POST", "/api/v1/namespaces/default/pods",
           {{"metadata", {{"name", "web"}}}, {"spec", {{"containers", {{{"name", "c"}}}}}}}, {},
           &code);
  ASSERT_EQ(code, 201);
  json binding = {{"apiVersion", "v1"},
                  {"kind", "Binding"},
                  {"metadata", {{"name", "web"}}},
                  {"target", {{"kind", "Node"}, {"name", "node-b"}}}};
  json s = callJson("POST", "/api/v1/namespaces/default/pods/web/binding", binding, {}, &code);
  EXPECT_EQ(code, 201) << s.dump();
  EXPECT_EQ(s["kind"], "Status");
  EXPECT_EQ(s["status"], "Success");
  json pod = callJson("GET", "/api/v1/namespaces/default/pods/web");
  EXPECT_EQ(pod["spec"]["nodeName"], "node-b");
  EXPECT_EQ(pod["status"]["conditions"][0]["type"], "PodScheduled");
  EXPECT_EQ(pod["status"]["phase"], "Pending");

  binding["target"]["name"] = "node-c";
  s = callJson("POST", "/api/v1/namespaces/default/pods/web/binding", binding, {}, &code);
  EXPECT_EQ(code, 409);
  EXPECT_EQ(s["reason"], "Conflict");
  EXPECT_NE(s["message"].get<std::string>().find("already assigned to node \"node-b\""),
            std::string::npos)
      << s.dump();
  callJson("POST", "/api/v1/namespaces/default/pods/none/binding",
           {{"target", {{"name", "node-b"}}}}, {}, &code);
  EXPECT_EQ(code, 404);
  callJson("POST", "/api/v1/namespaces/default/pods/web/binding",
           {{"kind", "Binding"}, {"target", json::object()}}, {}, &code);
  EXPECT_EQ(code, 422);
  binding["metadata"]["name"] = "other";
  callJson("POST", "/api/v1/namespaces/default/pods/web/binding", binding, {}, &code);
  EXPECT_EQ(code, 400);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/pods/web/binding").status, 405);
  EXPECT_EQ(call("POST", "/api/v1/namespaces/default/services/web/binding", "{}").status, 404);
  bool listed = false;
  json discovery = callJson("GET", "/api/v1");
  for (const auto& r : discovery["resources"]) listed |= r["name"] == "pods/binding";
  EXPECT_TRUE(listed);

  // The node of a bound pod is immutable through update and patch too.
  pod["spec"]["nodeName"] = "node-c";
  s = callJson("PUT", "/api/v1/namespaces/default/pods/web", pod, {}, &code);
  EXPECT_EQ(code, 422);
  EXPECT_NE(s["message"].get<std::string>().find("spec.nodeName"), std::string::npos);
  EXPECT_NE(s["message"].get<std::string>().find("field is immutable"), std::string::npos);
  callJson("PATCH", "/api/v1/namespaces/default/pods/web", {{"spec", {{"nodeName", "node-c"}}}}, {},
           &code, "application/merge-patch+json");
  EXPECT_EQ(code, 422);
  // An unbound pod may get its node by update.
  callJson("POST", "/api/v1/namespaces/default/pods",
           {{"metadata", {{"name", "free"}}}, {"spec", {{"containers", {{{"name", "c"}}}}}}}, {},
           &code);
  json patched =
      callJson("PATCH", "/api/v1/namespaces/default/pods/free",
               {{"spec", {{"nodeName", "node-a"}}}}, {}, &code, "application/merge-patch+json");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(patched["spec"]["nodeName"], "node-a");
}

TEST_F(ApiserverHandler, StatusMergePatchChangesOnlyTheStatus) {
  json p = createPod("default", "web", {{"app", "web"}});
  int code = 0;
  json patch = {{"metadata", {{"labels", {{"app", "other"}}}}},
                {"spec", {{"nodeName", "node-z"}}},
                {"status",
                 {{"phase", "Running"},
                  {"podIP", "10.244.1.5"},
                  {"podIPs", {{{"ip", "10.244.1.5"}}}},
                  {"hostIP", "192.168.0.2"},
                  {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
  json out = callJson("PATCH", "/api/v1/namespaces/default/pods/web/status", patch, {}, &code,
                      "application/merge-patch+json");
  ASSERT_EQ(code, 200) << out.dump();
  EXPECT_EQ(out["status"]["phase"], "Running");
  EXPECT_EQ(out["status"]["podIP"], "10.244.1.5");
  EXPECT_EQ(out["status"]["conditions"][0]["status"], "True");
  EXPECT_EQ(out["status"]["qosClass"], "BestEffort");  // merged, not replaced
  EXPECT_EQ(out["spec"], p["spec"]);
  EXPECT_EQ(out["metadata"]["labels"], p["metadata"]["labels"]);
  EXPECT_NE(out["metadata"]["resourceVersion"], p["metadata"]["resourceVersion"]);
}

// Hostile input: random bytes, truncated JSON, odd paths and methods never crash the handler
// and never produce an internal error.
TEST_F(ApiserverHandler, SurvivesRandomAndTruncatedInput) {
  std::mt19937 rng(12345);
  const std::vector<std::string> paths = {
      "/api/v1/namespaces/default/pods",
      "/api/v1/namespaces/default/pods/x",
      "/api/v1/namespaces/default/pods/x/status",
      "/api/v1/pods",
      "/api/v1/namespaces",
      "/api/v1/namespaces/default",
      "/api/v1/namespaces/default/status",
      "/api/v1/nodes/n",
      "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      "/apis/petrel.io/v1alpha1/x",
      "/api/v1/namespaces/default/services/web/../..",
      "//api//v1",
      "/apis",
      "/api/v2",
      "/apis/a/b/c/d/e/f/g",
      "/api/v1/namespaces//pods",
      "/\x01\x02",
      "/openapi/v3/api/v1",
      "/api/v1/namespaces/default/pods/x/exec",
      ""};
  const std::vector<std::string> methods = {"GET",    "POST", "PUT", "PATCH",
                                            "DELETE", "HEAD", "BREW"};
  const std::vector<std::string> seeds = {
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","labels":{"a":"b"}},"spec":{"containers":[{"name":"c"}]}})",
      R"({"metadata":{"name":"x","generateName":7,"annotations":[1,2]}})",
      R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"xs.petrel.io"},"spec":{"group":"petrel.io","scope":"Namespaced","names":{"plural":"xs","kind":"X"},"versions":[{"name":"v1alpha1","served":true,"storage":true}]}})",
      R"([{"op":"remove","path":"/metadata"},{"op":"add","path":"/spec/x/y","value":1}])",
      R"({"spec":{"$setElementOrder/ports":[{"port":1}],"ports":[{"$patch":"delete"}]},"$retainKeys":5})",
      R"({"metadata":null,"spec":null,"status":{"phase":null}})",
      "null",
      "[]",
      "1e999",
      "\"str\"",
      "{\"a\":" + std::string(200, '['),
      "\xff\xfe\xfd"};
  const std::vector<std::string> contentTypes = {"application/json",
                                                 "application/merge-patch+json",
                                                 "application/strategic-merge-patch+json",
                                                 "application/json-patch+json",
                                                 "text/plain",
                                                 ""};
  createPod("default", "x");
  // Deep nesting is refused before any recursive JSON code sees it.
  std::string deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_EQ(call("POST", "/api/v1/namespaces/default/configmaps", deep).status, 400);
  std::string deepPatch = "{\"metadata\":" + std::string(100000, '{');
  EXPECT_EQ(call("PATCH", "/api/v1/namespaces/default/pods/x", deepPatch, {},
                 "application/merge-patch+json")
                .status,
            400);
  for (int i = 0; i < 3000; ++i) {
    std::string body = seeds[rng() % seeds.size()];
    switch (rng() % 4) {
      case 0:
        body = body.substr(0, rng() % (body.size() + 1));
        break;
      case 1:
        if (!body.empty()) body[rng() % body.size()] = static_cast<char>(rng() % 256);
        break;
      case 2:
        body += seeds[rng() % seeds.size()];
        break;
      default:
        break;
    }
    std::map<std::string, std::string> q;
    if (rng() % 3 == 0) q["labelSelector"] = body.substr(0, rng() % (body.size() + 1));
    if (rng() % 4 == 0) q["fieldSelector"] = "metadata.name=" + body.substr(0, 5);
    if (rng() % 4 == 0) q["limit"] = std::to_string(static_cast<int>(rng() % 5) - 1);
    if (rng() % 5 == 0) q["continue"] = body.substr(0, 8);
    if (rng() % 6 == 0) q["watch"] = "1";
    if (rng() % 6 == 0) q["resourceVersion"] = std::to_string(rng() % 100);
    Response r = call(methods[rng() % methods.size()], paths[rng() % paths.size()], body, q,
                      contentTypes[rng() % contentTypes.size()]);
    ASSERT_GE(r.status, 200) << i;
    ASSERT_LT(r.status, 500) << i << " " << r.body;
    if (r.watch && r.watch->watcher) handler_.releaseWatch(r.watch->watcher);
  }
}

TEST(ApiserverPatch, StrategicMergeDirectives) {
  json orig = {{"spec",
                {{"containers", {{{"name", "a"}, {"image", "1"}}, {{"name", "b"}, {"image", "2"}}}},
                 {"finalizers", {"x", "y"}},
                 {"keep", 1},
                 {"drop", 2}}}};
  json patch = {{"spec",
                 {{"containers", {{{"name", "b"}, {"image", "3"}}}},
                  {"$deleteFromPrimitiveList/finalizers", {"x"}},
                  {"$retainKeys", {"containers", "finalizers", "keep"}}}}};
  auto r = applyPatch(orig, patch, PatchType::kStrategicMerge);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ((*r)["spec"]["containers"].size(), 2u);
  EXPECT_EQ((*r)["spec"]["containers"][1]["image"], "3");
  EXPECT_EQ((*r)["spec"]["finalizers"], json({"y"}));
  EXPECT_FALSE((*r)["spec"].contains("drop"));
  auto rep = applyPatch(orig, {{"spec", {{"$patch", "replace"}, {"only", true}}}},
                        PatchType::kStrategicMerge);
  ASSERT_TRUE(rep.isOk());
  EXPECT_EQ((*rep)["spec"], json({{"only", true}}));
  EXPECT_FALSE(applyPatch(orig, json::array(), PatchType::kMerge).isOk());
  EXPECT_FALSE(applyPatch(orig, {{{"op", "bogus"}}}, PatchType::kJsonPatch).isOk());
}

}  // namespace
}  // namespace petrel::apiserver
