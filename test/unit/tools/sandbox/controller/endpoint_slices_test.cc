// The EndpointSlice controller's pure logic: pod selection, endpoint conditions, named port
// resolution, grouping by resolved ports, the 100-per-slice split and the write plan.
#include <gtest/gtest.h>

#include "tools/sandbox/controller/endpoint_slices.h"

namespace petrel::controller {
namespace {

using nlohmann::json;

json service(const std::string& name, json selector, json ports,
             const std::string& ns = "default") {
  json s = {{"apiVersion", "v1"},
            {"kind", "Service"},
            {"metadata", {{"name", name}, {"namespace", ns}, {"uid", "uid-" + name}}},
            {"spec", {{"type", "ClusterIP"}, {"ports", ports}}}};
  if (!selector.is_null()) s["spec"]["selector"] = selector;
  return s;
}

json pod(const std::string& name, const std::string& ip, json labels = {{"app", "web"}},
         bool ready = true, const std::string& ns = "default") {
  return {
      {"metadata", {{"name", name}, {"namespace", ns}, {"uid", "uid-" + name}, {"labels", labels}}},
      {"spec",
       {{"nodeName", "node-1"},
        {"containers",
         {{{"name", "c"},
           {"ports", {{{"name", "http"}, {"containerPort", 8080}, {"protocol", "TCP"}}}}}}}}},
      {"status",
       {{"phase", "Running"},
        {"podIP", ip},
        {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}

json webService() {
  return service(
      "web", {{"app", "web"}},
      {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", "http"}},
       {{"name", "metrics"}, {"port", 9090}, {"protocol", "TCP"}, {"targetPort", 9100}}});
}

TEST(ControllerEndpointSlices, SelectsMatchingRunningPodsWithAnIpInTheSameNamespace) {
  json svc = webService();
  EXPECT_TRUE(podBacksService(svc, pod("a", "10.0.0.1")));
  EXPECT_FALSE(podBacksService(svc, pod("b", "10.0.0.2", {{"app", "db"}})));
  EXPECT_FALSE(podBacksService(svc, pod("c", "")));
  // The slices are IPv4: an IPv6 primary IP with an IPv4 second one gives the IPv4 one.
  json dual = pod("g", "fd00::7");
  EXPECT_FALSE(podBacksService(svc, dual));
  dual["status"]["podIPs"] = {{{"ip", "fd00::7"}}, {{"ip", "10.0.0.7"}}};
  EXPECT_TRUE(podBacksService(svc, dual));
  EXPECT_EQ(endpointFor(dual)["addresses"], json({"10.0.0.7"}));
  EXPECT_FALSE(podBacksService(svc, pod("d", "10.0.0.4", {{"app", "web"}}, true, "other")));
  json done = pod("e", "10.0.0.5");
  done["status"]["phase"] = "Succeeded";
  EXPECT_FALSE(podBacksService(svc, done));
  done["status"]["phase"] = "Failed";
  EXPECT_FALSE(podBacksService(svc, done));
  // Extra pod labels are fine; a missing selector key is not.
  EXPECT_TRUE(podBacksService(svc, pod("f", "10.0.0.6", {{"app", "web"}, {"tier", "x"}})));
  EXPECT_FALSE(selectorMatches({{"app", "web"}, {"tier", "x"}}, {{"app", "web"}}));
  // Services without a selector, with an empty one, or ExternalName are not managed.
  EXPECT_FALSE(managesService(service("manual", json(), json::array())));
  EXPECT_FALSE(managesService(service("empty", json::object(), json::array())));
  json ext = webService();
  ext["spec"]["type"] = "ExternalName";
  EXPECT_FALSE(managesService(ext));
  EXPECT_TRUE(desiredSlices(ext, {pod("a", "10.0.0.1")}).empty());
}

TEST(ControllerEndpointSlices, EndpointConditionsFollowReadinessAndDeletion) {
  json ep = endpointFor(pod("a", "10.0.0.1"));
  EXPECT_EQ(ep["addresses"], json({"10.0.0.1"}));
  EXPECT_EQ(ep["conditions"], json({{"ready", true}, {"serving", true}, {"terminating", false}}));
  EXPECT_EQ(ep["nodeName"], "node-1");
  EXPECT_EQ(ep["targetRef"],
            json({{"kind", "Pod"}, {"namespace", "default"}, {"name", "a"}, {"uid", "uid-a"}}));
  json notReady = endpointFor(pod("b", "10.0.0.2", {{"app", "web"}}, false));
  EXPECT_EQ(notReady["conditions"],
            json({{"ready", false}, {"serving", false}, {"terminating", false}}));
  json leaving = pod("c", "10.0.0.3");
  leaving["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:30Z";
  EXPECT_EQ(endpointFor(leaving)["conditions"],
            json({{"ready", false}, {"serving", true}, {"terminating", true}}));
  json noConditions = pod("d", "10.0.0.4");
  noConditions["status"].erase("conditions");
  EXPECT_EQ(endpointFor(noConditions)["conditions"]["ready"], false);
}

TEST(ControllerEndpointSlices, ResolvesNamedNumericAndAbsentTargetPorts) {
  json p = pod("a", "10.0.0.1");
  auto named = resolvePort({{"name", "http"}, {"port", 80}, {"targetPort", "http"}}, p);
  ASSERT_TRUE(named);
  EXPECT_EQ(*named, json({{"name", "http"}, {"protocol", "TCP"}, {"port", 8080}}));
  auto numeric =
      resolvePort({{"name", "m"}, {"port", 9090}, {"protocol", "UDP"}, {"targetPort", 9100}}, p);
  ASSERT_TRUE(numeric);
  EXPECT_EQ(*numeric, json({{"name", "m"}, {"protocol", "UDP"}, {"port", 9100}}));
  auto absent = resolvePort({{"port", 53}}, p);
  ASSERT_TRUE(absent);
  EXPECT_EQ((*absent)["port"], 53);
  EXPECT_EQ((*absent)["name"], "");
  EXPECT_FALSE(resolvePort({{"name", "x"}, {"port", 80}, {"targetPort", "grpc"}}, p));
  // The name must match with the same protocol.
  EXPECT_FALSE(
      resolvePort({{"name", "x"}, {"port", 80}, {"protocol", "UDP"}, {"targetPort", "http"}}, p));
}

TEST(ControllerEndpointSlices, GroupsPodsByTheirResolvedPortSet) {
  json svc = webService();
  json lacksHttp = pod("b", "10.0.0.2");
  lacksHttp["spec"]["containers"][0]["ports"] = json::array();
  json other = pod("c", "10.0.0.3");
  other["spec"]["containers"][0]["ports"][0]["containerPort"] = 8081;
  auto slices = desiredSlices(
      svc, {pod("a", "10.0.0.1"), lacksHttp, other, pod("z", "10.0.0.9", {{"app", "db"}})});
  ASSERT_EQ(slices.size(), 3u);
  std::map<std::string, std::vector<std::string>> byPorts;
  for (const auto& s : slices) {
    std::vector<std::string> names;
    for (const auto& ep : s.endpoints) names.push_back(ep["targetRef"]["name"]);
    byPorts[s.ports.dump()] = names;
  }
  json both = {{{"name", "http"}, {"protocol", "TCP"}, {"port", 8080}},
               {{"name", "metrics"}, {"protocol", "TCP"}, {"port", 9100}}};
  json both8081 = both;
  both8081[0]["port"] = 8081;
  json metricsOnly = {{{"name", "metrics"}, {"protocol", "TCP"}, {"port", 9100}}};
  EXPECT_EQ(byPorts[both.dump()], std::vector<std::string>{"a"});
  EXPECT_EQ(byPorts[both8081.dump()], std::vector<std::string>{"c"});
  EXPECT_EQ(byPorts[metricsOnly.dump()], std::vector<std::string>{"b"});
}

TEST(ControllerEndpointSlices, NoPodsGiveOneEmptySliceAndManyPodsSplitAt100) {
  json svc = webService();
  auto none = desiredSlices(svc, {});
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0].endpoints.empty());
  EXPECT_TRUE(none[0].ports.empty());
  std::vector<json> pods;
  for (int i = 0; i < 250; ++i) {
    pods.push_back(pod("p" + std::to_string(1000 + i),
                       "10.1." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1)));
  }
  auto slices = desiredSlices(svc, pods);
  ASSERT_EQ(slices.size(), 3u);
  EXPECT_EQ(slices[0].endpoints.size(), 100u);
  EXPECT_EQ(slices[1].endpoints.size(), 100u);
  EXPECT_EQ(slices[2].endpoints.size(), 50u);
  EXPECT_EQ(slices[0].endpoints[0]["targetRef"]["name"], "p1000");
  EXPECT_EQ(slices[2].endpoints[49]["targetRef"]["name"], "p1249");
  // The same pods in another order give the same slices.
  std::reverse(pods.begin(), pods.end());
  EXPECT_EQ(desiredSlices(svc, pods), slices);
}

// What the server would hold after a plan was applied: creates get a name and a version.
std::vector<json> applyPlan(const SlicePlan& plan, std::vector<json> existing) {
  std::vector<json> out;
  for (auto& s : existing) {
    bool removed = false, updated = false;
    for (const auto& r : plan.remove) removed |= r["metadata"]["name"] == s["metadata"]["name"];
    for (const auto& u : plan.update) {
      if (u["metadata"]["name"] == s["metadata"]["name"]) {
        out.push_back(u);
        updated = true;
      }
    }
    if (!removed && !updated) out.push_back(s);
  }
  int n = 0;
  for (auto c : plan.create) {
    c["metadata"]["name"] = c["metadata"]["generateName"].get<std::string>() + std::to_string(n++);
    c["metadata"]["resourceVersion"] = "1";
    out.push_back(c);
  }
  return out;
}

TEST(ControllerEndpointSlices, PlanCreatesThenHasNothingToDoWhenEqual) {
  json svc = webService();
  std::vector<json> pods = {pod("a", "10.0.0.1"), pod("b", "10.0.0.2", {{"app", "web"}}, false)};
  auto desired = desiredSlices(svc, pods);
  SlicePlan first = planSlices(svc, desired, {});
  ASSERT_EQ(first.create.size(), 1u);
  EXPECT_TRUE(first.update.empty());
  EXPECT_TRUE(first.remove.empty());
  const json& c = first.create[0];
  EXPECT_EQ(c["metadata"]["generateName"], "web-");
  EXPECT_EQ(c["metadata"]["namespace"], "default");
  EXPECT_EQ(c["metadata"]["labels"]["kubernetes.io/service-name"], "web");
  EXPECT_EQ(c["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "petrel-controller");
  EXPECT_EQ(c["metadata"]["ownerReferences"][0]["uid"], "uid-web");
  EXPECT_EQ(c["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(c["addressType"], "IPv4");
  EXPECT_EQ(summarizeEndpoints(c), "1 ready, 0 terminating, 1 not ready");

  std::vector<json> stored = applyPlan(first, {});
  EXPECT_TRUE(planSlices(svc, desired, stored).empty());

  // A pod starts terminating: the slice is updated in place (its version kept for 409s).
  pods[0]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:30Z";
  SlicePlan changed = planSlices(svc, desiredSlices(svc, pods), stored);
  ASSERT_EQ(changed.update.size(), 1u);
  EXPECT_TRUE(changed.create.empty());
  EXPECT_TRUE(changed.remove.empty());
  EXPECT_EQ(changed.update[0]["metadata"]["name"], "web-0");
  EXPECT_EQ(changed.update[0]["metadata"]["resourceVersion"], "1");
  EXPECT_EQ(summarizeEndpoints(changed.update[0]), "0 ready, 1 terminating, 1 not ready");
}

TEST(ControllerEndpointSlices, PlanRemovesExtrasForeignTypesAndSlicesOfGoneServices) {
  json svc = webService();
  std::vector<json> pods;
  for (int i = 0; i < 150; ++i) pods.push_back(pod("p" + std::to_string(100 + i), "10.2.0.1"));
  std::vector<json> stored = applyPlan(planSlices(svc, desiredSlices(svc, pods), {}), {});
  ASSERT_EQ(stored.size(), 2u);
  pods.resize(20);
  SlicePlan shrink = planSlices(svc, desiredSlices(svc, pods), stored);
  EXPECT_EQ(shrink.update.size(), 1u);
  EXPECT_EQ(shrink.remove.size(), 1u);
  EXPECT_TRUE(shrink.create.empty());
  stored = applyPlan(shrink, stored);
  EXPECT_TRUE(planSlices(svc, desiredSlices(svc, pods), stored).empty());

  // A slice left by a Service of the same name that was recreated (other uid) is adopted.
  json again = svc;
  again["metadata"]["uid"] = "uid-new";
  SlicePlan adopt = planSlices(again, desiredSlices(again, pods), stored);
  ASSERT_EQ(adopt.update.size(), 1u);
  EXPECT_EQ(adopt.update[0]["metadata"]["ownerReferences"][0]["uid"], "uid-new");

  json fqdn = stored[0];
  fqdn["metadata"]["name"] = "web-fqdn";
  fqdn["addressType"] = "FQDN";
  stored.push_back(fqdn);
  SlicePlan foreign = planSlices(svc, desiredSlices(svc, pods), stored);
  ASSERT_EQ(foreign.remove.size(), 1u);
  EXPECT_EQ(foreign.remove[0]["metadata"]["name"], "web-fqdn");
  EXPECT_TRUE(foreign.update.empty());

  // Service deleted or its selector removed: every slice goes.
  SlicePlan gone = planSlices(json(), {}, stored);
  EXPECT_EQ(gone.remove.size(), stored.size());
  EXPECT_TRUE(gone.create.empty());
}

TEST(ControllerEndpointSlices, EndpointsStayInTheirSlicesSoAChangeRewritesOneSlice) {
  json svc = webService();
  std::vector<json> pods;
  for (int i = 0; i < 250; ++i) pods.push_back(pod("p" + std::to_string(1000 + i), "10.3.0.1"));
  std::vector<json> stored = applyPlan(planSlices(svc, desiredSlices(svc, pods), {}), {});
  ASSERT_EQ(stored.size(), 3u);
  // A pod whose name sorts first joins the slice with room instead of shifting every slice.
  pods.push_back(pod("a-first", "10.3.0.2"));
  SlicePlan add = planSlices(svc, desiredSlices(svc, pods), stored);
  ASSERT_EQ(add.update.size(), 1u);
  EXPECT_TRUE(add.create.empty());
  EXPECT_TRUE(add.remove.empty());
  EXPECT_EQ(add.update[0]["endpoints"].size(), 51u);
  EXPECT_EQ(add.update[0]["endpoints"][50]["targetRef"]["name"], "a-first");
  stored = applyPlan(add, stored);
  EXPECT_TRUE(planSlices(svc, desiredSlices(svc, pods), stored).empty());
  // One pod turns unready: only its slice is written.
  pods[5]["status"]["conditions"][0]["status"] = "False";
  SlicePlan unready = planSlices(svc, desiredSlices(svc, pods), stored);
  ASSERT_EQ(unready.update.size(), 1u);
  EXPECT_EQ(summarizeEndpoints(unready.update[0]), "99 ready, 0 terminating, 1 not ready");
  stored = applyPlan(unready, stored);
  // Half the pods go: emptied slices are deleted, the rest shrink in place.
  pods.erase(pods.begin() + 100, pods.begin() + 200);
  SlicePlan shrink = planSlices(svc, desiredSlices(svc, pods), stored);
  EXPECT_EQ(shrink.remove.size(), 1u);
  EXPECT_TRUE(shrink.update.empty());
  EXPECT_TRUE(shrink.create.empty());
  // All pods gone: one empty slice stays.
  stored = applyPlan(shrink, stored);
  SlicePlan none = planSlices(svc, desiredSlices(svc, {}), stored);
  EXPECT_EQ(none.update.size() + none.create.size(), 1u);
  EXPECT_EQ(none.remove.size(), stored.size() - 1);
}

}  // namespace
}  // namespace petrel::controller
