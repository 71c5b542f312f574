// End-to-end: petrel-controller against a real petrel-apiserver process, driven with the real
// kubectl. Nodes, Services and Pods are created with kubectl; the test plays the kubelet by
// patching pod status (Running, podIP, Ready) and by the final grace-0 delete. Checks the
// EndpointSlices (ports, conditions, terminating), no rewrites when nothing changed, binding of
// unbound pods round-robin over Ready nodes, slice removal, cleanup of a previous run's slices
// and a prompt SIGTERM. Needs kubectl and build/bin/petrel-{apiserver,controller}; no root.
#include <signal.h>

#include <regex>
#include <set>
#include <thread>

#include "test/e2e/apiserver_fixture.h"
#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

using nlohmann::json;

class Controller : public ApiServerTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireFile(binDir() / "petrel-controller",
                            "build it with: ninja -C build petrel-controller"));
    ASSERT_NO_FATAL_FAILURE(startApiServer("pe2e-ctl"));
    startController();
  }
  void TearDown() override {
    controller_.reset();
    ApiServerTest::TearDown();
  }

  void startController() {
    controller_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{(binDir() / "petrel-controller").string(), "--kubeconfig",
                                 kubeconfig().string(), "--resync", "1", "-v"},
        *dir_ / ("controller-" + std::to_string(++controllerStarts_) + ".log"));
    ASSERT_TRUE(
        waitUntil([&] { return controllerLog().find("caches synced") != std::string::npos; }, 15s))
        << "petrel-controller did not sync:\n"
        << controllerLog();
  }
  std::string controllerLog() const { return controller_ ? controller_->log() : ""; }

  void create(const json& obj) { must({"create", "-f", "-"}, obj.dump()); }
  void patchStatus(const std::string& kind, const std::string& name, const json& status) {
    must({"patch", kind, name, "--subresource=status", "--type=merge", "-p",
          json{{"status", status}}.dump()});
  }
  std::vector<json> slices(const std::string& service) {
    json l = get({"get", "endpointslices", "-l", "kubernetes.io/service-name=" + service});
    std::vector<json> out;
    if (l.is_object() && l["items"].is_array()) out.assign(l["items"].begin(), l["items"].end());
    return out;
  }

  void createNode(const std::string& name, bool ready, bool unschedulable = false) {
    json n = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}};
    if (unschedulable) n["spec"]["unschedulable"] = true;
    create(n);
    patchStatus("node", name,
                {{"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}});
  }
  json pod(const std::string& name, const std::string& node, bool namedPort = true) {
    json c = {{"name", "app"}, {"image", "registry.local/web:1"}};
    if (namedPort) c["ports"] = {{{"name", "http"}, {"containerPort", 8080}}};
    json p = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"labels", {{"app", "web"}}}}},
              {"spec", {{"containers", {c}}}}};
    if (!node.empty()) p["spec"]["nodeName"] = node;
    return p;
  }
  // What the kubelet reports for a running, ready pod.
  void markRunning(const std::string& name, const std::string& ip) {
    patchStatus("pod", name,
                {{"phase", "Running"},
                 {"podIP", ip},
                 {"podIPs", {{{"ip", ip}}}},
                 {"hostIP", "192.168.50.2"},
                 {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}});
  }
  json webService() {
    return {{"apiVersion", "v1"},
            {"kind", "Service"},
            {"metadata", {{"name", "web"}}},
            {"spec",
             {{"selector", {{"app", "web"}}},
              {"ports",
               {{{"name", "http"}, {"port", 80}, {"targetPort", "http"}},
                {{"name", "metrics"}, {"port", 9100}}}}}}};
  }

  std::unique_ptr<BackgroundProcess> controller_;
  int controllerStarts_ = 0;
};

// name -> endpoint of every slice of `slices` whose ports equal `ports`.
std::map<std::string, json> endpointsWithPorts(const std::vector<json>& slices, const json& ports) {
  std::map<std::string, json> out;
  for (const auto& s : slices) {
    if (s.value("ports", json::array()) != ports) continue;
    for (const auto& ep : s.value("endpoints", json::array())) out[ep["targetRef"]["name"]] = ep;
  }
  return out;
}

TEST_F(Controller, EndpointSlicesFollowPodsThroughGracefulDeletionAndServiceDelete) {
  createNode("node-1", true);
  createNode("node-2", true);
  create(webService());
  // No pods yet: one slice without endpoints, as Kubernetes does.
  ASSERT_TRUE(waitUntil([&] { return slices("web").size() == 1; }, 10s)) << controllerLog();
  EXPECT_TRUE(slices("web")[0].value("endpoints", json::array()).empty());

  create(pod("web-1", "node-1"));
  create(pod("web-2", "node-2"));
  create(pod("web-3", "node-1", false));  // lacks the named port "http"
  markRunning("web-1", "10.244.1.11");
  markRunning("web-2", "10.244.2.12");
  markRunning("web-3", "10.244.1.13");
  const json both = {{{"name", "http"}, {"protocol", "TCP"}, {"port", 8080}},
                     {{"name", "metrics"}, {"protocol", "TCP"}, {"port", 9100}}};
  const json metricsOnly = {{{"name", "metrics"}, {"protocol", "TCP"}, {"port", 9100}}};
  ASSERT_TRUE(waitUntil(
      [&] {
        auto s = slices("web");
        return s.size() == 2 && endpointsWithPorts(s, both).size() == 2 &&
               endpointsWithPorts(s, metricsOnly).size() == 1;
      },
      10s))
      << get({"get", "endpointslices"}).dump(1) << "\n"
      << controllerLog();
  json svc = get({"get", "service", "web"});
  std::vector<json> current = slices("web");
  for (const auto& s : current) {
    EXPECT_EQ(s["addressType"], "IPv4");
    EXPECT_EQ(s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
              "petrel-controller");
    EXPECT_EQ(s["metadata"]["generateName"], "web-");
    EXPECT_EQ(s["metadata"]["ownerReferences"][0]["kind"], "Service");
    EXPECT_EQ(s["metadata"]["ownerReferences"][0]["uid"], svc["metadata"]["uid"]);
  }
  json ep1 = endpointsWithPorts(current, both)["web-1"];
  EXPECT_EQ(ep1["addresses"], json({"10.244.1.11"}));
  EXPECT_EQ(ep1["nodeName"], "node-1");
  EXPECT_EQ(ep1["conditions"], json({{"ready", true}, {"serving", true}, {"terminating", false}}));
  EXPECT_EQ(ep1["targetRef"]["uid"], get({"get", "pod", "web-1"})["metadata"]["uid"]);
  EXPECT_EQ(endpointsWithPorts(current, metricsOnly)["web-3"]["addresses"], json({"10.244.1.13"}));

  // Several full passes (--resync 1) later nothing was rewritten.
  std::map<std::string, std::string> versions;
  for (const auto& s : current) versions[s["metadata"]["name"]] = s["metadata"]["resourceVersion"];
  std::this_thread::sleep_for(2500ms);
  for (const auto& s : slices("web")) {
    EXPECT_EQ(versions[s["metadata"]["name"]], s["metadata"]["resourceVersion"])
        << s["metadata"]["name"];
  }

  // A graceful delete leaves the pod terminating: not ready, still serving.
  must({"delete", "pod", "web-1", "--wait=false"});
  ASSERT_TRUE(waitUntil(
      [&] {
        json ep = endpointsWithPorts(slices("web"), both)["web-1"];
        return ep.is_object() &&
               ep["conditions"] ==
                   json({{"ready", false}, {"serving", true}, {"terminating", true}});
      },
      10s))
      << get({"get", "endpointslices"}).dump(1);
  EXPECT_NE(controllerLog().find("1 ready, 1 terminating"), std::string::npos) << controllerLog();
  // The kubelet's final delete (grace 0) takes it out.
  must({"delete", "pod", "web-1", "--grace-period=0", "--force"});
  ASSERT_TRUE(waitUntil(
      [&] {
        auto eps = endpointsWithPorts(slices("web"), both);
        return eps.size() == 1 && eps.count("web-2");
      },
      10s))
      << get({"get", "endpointslices"}).dump(1);

  must({"delete", "service", "web"});
  ASSERT_TRUE(waitUntil([&] { return slices("web").empty(); }, 10s)) << controllerLog();
  EXPECT_NE(controllerLog().find("deleted (service gone"), std::string::npos);
}

TEST_F(Controller, BindsUnboundPodsRoundRobinOverReadySchedulableNodes) {
  create(pod("early", ""));
  ASSERT_TRUE(waitUntil(
      [&] { return controllerLog().find("no ready node for default/early") != std::string::npos; },
      10s))
      << controllerLog();
  EXPECT_EQ(get({"get", "pod", "early"})["spec"].value("nodeName", ""), "");

  createNode("node-a", true);
  createNode("node-b", true);
  createNode("node-cordoned", true, true);
  createNode("node-down", false);
  json host = pod("host-net", "");
  host["spec"]["hostNetwork"] = true;
  create(host);
  for (int i = 0; i < 4; ++i) create(pod("p-" + std::to_string(i), ""));
  std::vector<std::string> names = {"early", "host-net", "p-0", "p-1", "p-2", "p-3"};
  std::map<std::string, int> perNode;
  ASSERT_TRUE(waitUntil(
      [&] {
        perNode.clear();
        for (const auto& n : names) perNode[get({"get", "pod", n})["spec"].value("nodeName", "")]++;
        return !perNode.count("");
      },
      10s))
      << controllerLog();
  EXPECT_EQ(perNode, (std::map<std::string, int>{{"node-a", 3}, {"node-b", 3}}));
  EXPECT_NE(controllerLog().find("bound default/p-0 to node-"), std::string::npos);
  json scheduled = get({"get", "pod", "p-0"});
  EXPECT_EQ(scheduled["status"]["conditions"][0]["type"], "PodScheduled");
  // The "no ready node" line is said once per pod.
  std::string log = controllerLog();
  EXPECT_EQ(log.find("no ready node for default/early"),
            log.rfind("no ready node for default/early"));
}

TEST_F(Controller, RestartCleansSlicesOfAPreviousRunAndSigtermIsPrompt) {
  auto stopped = controller_->signalAndWait(SIGTERM, 1000ms);
  ASSERT_TRUE(stopped) << "petrel-controller did not exit within 1 s of SIGTERM";
  EXPECT_EQ(*stopped, 0);
  // Left behind: a slice of a Service that no longer exists and a wrong slice of one that does.
  create(webService());
  create(pod("web-1", "node-1"));
  markRunning("web-1", "10.244.1.21");
  auto leftover = [](const std::string& name, const std::string& service) {
    return json{{"apiVersion", "discovery.k8s.io/v1"},
                {"kind", "EndpointSlice"},
                {"metadata",
                 {{"name", name},
                  {"labels",
                   {{"kubernetes.io/service-name", service},
                    {"endpointslice.kubernetes.io/managed-by", "petrel-controller"}}}}},
                {"addressType", "IPv4"},
                {"endpoints", {{{"addresses", {"10.9.9.9"}}}}},
                {"ports", json::array()}};
  };
  create(leftover("ghost-abcde", "ghost"));
  create(leftover("web-stale", "web"));
  // Another controller's slice is none of ours.
  json foreign = leftover("web-foreign", "web");
  foreign["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] = "someone-else";
  create(foreign);

  startController();
  ASSERT_TRUE(waitUntil(
      [&] {
        auto s = slices("web");
        json ghost = get({"get", "endpointslices", "-l", "kubernetes.io/service-name=ghost"});
        return ghost.is_object() && ghost["items"].empty() && s.size() == 2;
      },
      10s))
      << get({"get", "endpointslices"}).dump(1) << "\n"
      << controllerLog();
  for (const auto& s : slices("web")) {
    if (s["metadata"]["name"] == "web-foreign") continue;
    // The stale slice was adopted (rewritten in place), not replaced.
    EXPECT_EQ(s["metadata"]["name"], "web-stale");
    EXPECT_EQ(s["endpoints"][0]["addresses"], json({"10.244.1.21"}));
    EXPECT_EQ(s["metadata"]["ownerReferences"][0]["name"], "web");
  }
  EXPECT_TRUE(kubectl({"get", "endpointslice", "web-foreign"}).ok());
}

}  // namespace
}  // namespace petrel::e2e
