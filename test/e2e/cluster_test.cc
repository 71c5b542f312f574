// End-to-end: the sandbox as a Kubernetes cluster, driven only with the real kubectl. A
// Deployment is scaled 3 -> 6 -> 2 and rolled to a new template while a client in a pod keeps
// calling its Service: no request fails, and answers come from pods on both nodes. What `kubectl
// get -o yaml` prints applies back unchanged, and a `kind: List` file creates every item. Service
// names resolve from pods through the cluster DNS. Needs root, curl and the build's kubectl.
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "test/e2e/harness.h"
#include "test/e2e/sandbox_cluster.h"

namespace petrel::e2e {
namespace {

using nlohmann::json;

// A Deployment of petrel-workload (HTTP 8080 answers with the pod's name); a pod stops serving
// only 3 s after it is told to stop (preStop sleep), so the agents have moved its Service's
// traffic away by then, as a production Deployment does it.
std::string webDeployment(int replicas) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: " +
         std::to_string(replicas) +
         "\n  selector: {matchLabels: {app: web}}\n"
         "  strategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}\n"
         "  template:\n"
         "    metadata: {labels: {app: web}}\n"
         "    spec:\n"
         "      terminationGracePeriodSeconds: 10\n"
         "      containers:\n"
         "      - name: web\n"
         "        image: petrel/workload\n"
         "        ports: [{name: http, containerPort: 8080}]\n"
         "        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}\n"
         "        lifecycle: {preStop: {sleep: {seconds: 3}}}\n"
         "---\n"
         "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
         "spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}\n"
         "---\n"
         "apiVersion: v1\nkind: Pod\nmetadata: {name: client}\n"
         "spec: {nodeName: node-1, containers: [{name: main, image: petrel/workload}]}\n";
}

class Cluster : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireBasics());
    for (const char* tool : {"kubectl", "curl"}) ASSERT_TRUE(requireTool(tool));
    ASSERT_TRUE(sb_.up(2));
  }
  // Ready endpoints of Service `name`, from its EndpointSlices (the real controller's).
  size_t readyEndpoints(const std::string& name) {
    json slices =
        sb_.kubectlJson({"get", "endpointslices", "-l", "kubernetes.io/service-name=" + name});
    size_t n = 0;
    for (const auto& s : slices.value("items", json::array())) {
      for (const auto& e : s.value("endpoints", json::array())) {
        if (e.value("/conditions/ready"_json_pointer, false)) ++n;
      }
    }
    return n;
  }
  ::testing::AssertionResult waitReadyEndpoints(const std::string& name, size_t n,
                                                Millis limit = 90s) {
    if (waitUntil([&] { return readyEndpoints(name) == n; }, limit, 250ms)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << name << " has " << readyEndpoints(name) << " ready endpoints, not " << n << "\n"
           << sb_.kubectl({"get", "pods", "-o", "wide"}).out;
  }
  // curl from the client pod (its namespace, node-1's cgroup so Services apply).
  std::string fromClient(const std::string& url) {
    auto r = run({"sh", "-c",
                  "echo $$ > " + sb_.cgroupRoot() +
                      "/node-1/cgroup.procs && exec nsenter --net=/run/netns/" + client_netns_ +
                      " curl -s -m 3 " + url},
                 {.timeout = 10s});
    return r.ok() ? trim(r.out) : "";
  }

  Sandbox sb_;
  std::string client_netns_;
};

TEST_F(Cluster, DeploymentScaledAndRolledWhileItsServiceAnswersFromBothNodes) {
  ASSERT_TRUE(sb_.apply(webDeployment(3)));
  ASSERT_TRUE(sb_.waitReady({"client"}));
  ASSERT_TRUE(waitReadyEndpoints("web", 3));
  client_netns_ = sb_.podNetns()["client"];
  const std::string ip = sb_.kubectlJson({"get", "service", "web"})["spec"]["clusterIP"];
  ASSERT_TRUE(waitUntil([&] { return !fromClient("http://" + ip + "/").empty(); }, 20s));

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, requests{0};
  std::mutex mu;
  std::map<std::string, int> answered_by;  // pod name -> answers
  std::thread traffic([&] {
    while (!stop) {
      const std::string who = fromClient("http://" + ip + "/");
      ++requests;
      if (who.rfind("web-", 0) != 0) {
        ++failures;
      } else {
        std::lock_guard lock(mu);
        ++answered_by[who];
      }
      std::this_thread::sleep_for(50ms);
    }
  });
  JoinOnExit joiner(stop, traffic);

  ASSERT_TRUE(sb_.kubectl({"scale", "deployment/web", "--replicas=6"}).ok());
  ASSERT_TRUE(waitReadyEndpoints("web", 6));
  ASSERT_TRUE(sb_.kubectl({"scale", "deployment/web", "--replicas=2"}).ok());
  ASSERT_TRUE(waitReadyEndpoints("web", 2));
  // A new template: a new ReplicaSet replaces the old one pod by pod.
  ASSERT_TRUE(sb_.kubectl({"set", "env", "deployment/web", "ROLLOUT=2"}).ok());
  auto rollout = sb_.kubectl({"rollout", "status", "deployment/web", "--timeout=120s"}, 130s);
  ASSERT_TRUE(rollout.ok()) << rollout.describe();
  ASSERT_TRUE(waitReadyEndpoints("web", 2));
  std::this_thread::sleep_for(4s);  // the old pods' preStop and the last requests
  stop = true;
  traffic.join();

  EXPECT_EQ(failures.load(), 0) << "of " << requests.load() << " requests";
  EXPECT_GT(requests.load(), 50);
  std::set<std::string> nodes;
  auto pods = sb_.pods();
  json rs = sb_.kubectlJson({"get", "replicasets", "-l", "app=web"});
  EXPECT_EQ(rs.value("items", json::array()).size(), 2u) << "one ReplicaSet per template";
  std::lock_guard lock(mu);
  for (const auto& [pod, n] : answered_by) {
    // Pods that are gone cannot be placed; those still here name their node.
    if (pods.count(pod)) nodes.insert(pods[pod]["spec"]["nodeName"].get<std::string>());
  }
  // The scheduler spreads a Deployment's pods: with 6 replicas both nodes had some, and the
  // Service balanced over them.
  EXPECT_GE(answered_by.size(), 6u) << ::testing::PrintToString(answered_by);
  EXPECT_EQ(nodes.size(), 2u) << "the 2 remaining pods answered from "
                              << ::testing::PrintToString(nodes);
}

TEST_F(Cluster, KubectlGetYamlAppliesBackAndAListCreatesEveryItem) {
  const std::string list =
      "apiVersion: v1\nkind: List\nitems:\n"
      "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: settings}\n  data: {mode: fast}\n"
      "- apiVersion: v1\n  kind: Service\n  metadata: {name: api}\n"
      "  spec: {selector: {app: api}, ports: [{port: 80, targetPort: 8080}]}\n"
      "- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: api}\n"
      "  spec:\n    replicas: 1\n    selector: {matchLabels: {app: api}}\n"
      "    template:\n      metadata: {labels: {app: api}}\n"
      "      spec: {containers: [{name: api, image: petrel/workload}]}\n";
  auto created = run({"kubectl", "--kubeconfig", sb_.kubeconfig(), "create", "-f", "-"},
                     {.input = list, .env = {{"HOME", sb_.stateDir()}}});
  ASSERT_TRUE(created.ok()) << created.describe();
  for (const char* kind : {"configmap/settings", "service/api", "deployment/api"}) {
    EXPECT_TRUE(sb_.kubectl({"get", kind}).ok()) << kind;
  }
  ASSERT_TRUE(waitReadyEndpoints("api", 1));

  for (const char* kind : {"configmap/settings", "service/api", "deployment/api"}) {
    auto yaml = sb_.kubectl({"get", kind, "-o", "yaml"});
    ASSERT_TRUE(yaml.ok()) << yaml.describe();
    auto applied = run({"kubectl", "--kubeconfig", sb_.kubeconfig(), "apply", "-f", "-"},
                       {.input = yaml.out, .env = {{"HOME", sb_.stateDir()}}});
    EXPECT_TRUE(applied.ok()) << kind << ": " << applied.describe();
    auto replaced = run(
        {"kubectl", "--kubeconfig", sb_.kubeconfig(), "replace", "-f", "-"},
        {.input = sb_.kubectl({"get", kind, "-o", "yaml"}).out, .env = {{"HOME", sb_.stateDir()}}});
    EXPECT_TRUE(replaced.ok()) << kind << ": " << replaced.describe();
  }
  // Applying the printed Deployment back changed nothing that matters: no new rollout (one
  // ReplicaSet). Its generation may grow: a Deployment counts annotation changes too, and apply
  // records its last-applied configuration in one.
  EXPECT_EQ(sb_.kubectlJson({"get", "replicasets", "-l", "app=api"})["items"].size(), 1u);
}

// Pods resolve Services by name through the cluster DNS (CoreDNS with its kubernetes plugin,
// Service kube-dns at 10.96.0.10): the full name, and the short one through the search path the
// kubelet writes into the pod's resolv.conf.
TEST_F(Cluster, ServiceNamesResolveFromPods) {
  ASSERT_TRUE(sb_.apply(webDeployment(1)));
  ASSERT_TRUE(sb_.waitReady({"client"}));
  const std::string ip = sb_.kubectlJson({"get", "service", "web"})["spec"]["clusterIP"];
  json client = sb_.kubectlJson({"get", "pod", "client"});
  const std::string id = client["status"]["containerStatuses"][0].value("containerID", "");
  ASSERT_EQ(id.rfind("process://", 0), 0u) << client.dump();
  const std::string pid = id.substr(std::string("process://").size());
  // The pod's own view of /etc/resolv.conf.
  auto resolv = run({"cat", "/proc/" + pid + "/root/etc/resolv.conf"});
  ASSERT_TRUE(resolv.ok()) << resolv.describe();
  EXPECT_NE(resolv.out.find("nameserver 10.96.0.10"), std::string::npos) << resolv.out;
  EXPECT_NE(resolv.out.find("search default.svc.cluster.local svc.cluster.local cluster.local"),
            std::string::npos)
      << resolv.out;
  // getent in the pod's mount and network namespaces and its node's cgroup: what its programs
  // get from the resolver.
  auto resolve = [&](const std::string& name) {
    auto r = run({"sh", "-c",
                  "echo $$ > " + sb_.cgroupRoot() + "/node-1/cgroup.procs && exec nsenter -t " +
                      pid + " -m -n getent hosts " + name},
                 {.timeout = 15s});
    return r.ok() ? r.out : r.describe();
  };
  for (const std::string name :
       {"web.default.svc.cluster.local", "web", "kubernetes.default", "web.default.svc"}) {
    std::string got;
    EXPECT_TRUE(waitUntil(
        [&] {
          got = resolve(name);
          return got.rfind(name == "kubernetes.default" ? "10.96.0.1 " : ip + " ", 0) == 0;
        },
        30s, 500ms))
        << name << " -> " << got;
  }
  EXPECT_EQ(resolve("nope.default.svc.cluster.local").find("10."), std::string::npos);
}

}  // namespace
}  // namespace petrel::e2e
