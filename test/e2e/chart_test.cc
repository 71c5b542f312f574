// End-to-end: Petrel's Helm chart with the real helm and kubectl. `helm lint` passes; the sandbox
// installs Petrel with it (`up --install helm`: the agents are a DaemonSet's pods, the operator a
// Deployment's, with the chart's RBAC and in-cluster config); the rendered manifests pass
// `kubectl apply --dry-run=server`; `helm upgrade` with a changed value rolls the agents one node
// at a time while a client keeps calling a pod on the other node and a Service, without one
// failed request; `helm uninstall` leaves no CNI config, CNI binary, pinned map or Petrel program
// on any node. Needs root, curl and the build's helm and kubectl.
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "test/e2e/harness.h"
#include "test/e2e/sandbox_cluster.h"

namespace petrel::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class Chart : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireBasics());
    for (const char* tool : {"kubectl", "helm", "curl"}) ASSERT_TRUE(requireTool(tool));
  }
  std::string chart() const { return (sourceDir() / "charts/petrel").string(); }
  CmdResult helm(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"helm", "--kubeconfig", sb_.kubeconfig()});
    return run(args, {.timeout = 120s,
                      .input = input,
                      .env = {{"HOME", sb_.stateDir() + "/helm"},
                              {"HELM_CACHE_HOME", sb_.stateDir() + "/helm/cache"},
                              {"HELM_CONFIG_HOME", sb_.stateDir() + "/helm/config"},
                              {"HELM_DATA_HOME", sb_.stateDir() + "/helm/data"}}});
  }
  // The agent pods' names, by node.
  std::map<std::string, std::string> agentPods() {
    std::map<std::string, std::string> out;
    json pods = sb_.kubectlJson(
        {"-n", "kube-system", "get", "pods", "-l", "app.kubernetes.io/component=agent"});
    for (const auto& p : pods.value("items", json::array())) {
      out[p["spec"].value("nodeName", "")] = p["metadata"]["name"];
    }
    return out;
  }
  std::string nodeDir(int i) const { return sb_.stateDir() + "/nodes/node-" + std::to_string(i); }
  // The node's whole /sys/fs/bpf: nothing may stay in it after the uninstall.
  std::string nodeBpffs(int i) const {
    return "/sys/fs/bpf/petrel-" + sb_.prefix() + "/node-" + std::to_string(i);
  }

  Sandbox sb_;
};

TEST_F(Chart, InstallsUpgradesWithoutAFailedRequestAndUninstallsWithoutATrace) {
  auto lint = run({"helm", "lint", "--strict", chart()});
  ASSERT_TRUE(lint.ok()) << lint.describe();

  ASSERT_TRUE(sb_.up(2, {"--install", "helm"}));
  json ds = sb_.kubectlJson({"-n", "kube-system", "get", "daemonset", "petrel-agent"});
  EXPECT_EQ(ds["status"].value("numberReady", 0), 2) << ds.dump();
  json op = sb_.kubectlJson({"-n", "kube-system", "get", "deployment", "petrel-operator"});
  EXPECT_EQ(op["status"].value("availableReplicas", 0), 2) << op.dump();
  // The agents talk to the API with the chart's RBAC, not as an admin.
  auto can = sb_.kubectl({"auth", "can-i", "create", "pods", "--as",
                          "system:serviceaccount:kube-system:petrel-agent"});
  EXPECT_EQ(trim(can.out), "no") << can.describe();

  // What helm renders passes the API server's own validation and admission.
  auto rendered = helm({"template", "petrel", chart(), "-n", "kube-system"});
  ASSERT_TRUE(rendered.ok()) << rendered.describe();
  auto dry =
      run({"kubectl", "--kubeconfig", sb_.kubeconfig(), "apply", "--dry-run=server", "-f", "-"},
          {.input = rendered.out, .env = {{"HOME", sb_.stateDir()}}});
  EXPECT_TRUE(dry.ok()) << dry.describe();

  // Traffic across nodes (client on node-1, a pod on node-2) and through a Service.
  ASSERT_TRUE(sb_.apply(workloadPodOn("far", "node-2") + workloadPodOn("near", "node-1") +
                        workloadPodOn("client", "node-1") +
                        "apiVersion: v1\nkind: Service\nmetadata: {name: far}\n"
                        "spec: {selector: {app: far}, ports: [{port: 80, targetPort: 8080}]}\n"));
  ASSERT_TRUE(sb_.waitReady({"far", "near", "client"}));
  const std::string far_ip = sb_.pods()["far"]["status"]["podIP"];
  const std::string service_ip = sb_.kubectlJson({"get", "service", "far"})["spec"]["clusterIP"];
  const std::string client = sb_.podNetns()["client"];
  auto ask = [&](const std::string& url) {
    auto r = run({"sh", "-c",
                  "echo $$ > " + sb_.cgroupRoot() + "/node-1/cgroup.procs && exec nsenter --net=" +
                      "/run/netns/" + client + " curl -s -m 3 " + url},
                 {.timeout = 10s});
    return r.ok() ? trim(r.out) : "";
  };
  ASSERT_TRUE(waitUntil([&] { return ask("http://" + service_ip + "/") == "far"; }, 30s));

  const auto before = agentPods();
  ASSERT_EQ(before.size(), 2u);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, requests{0};
  std::thread traffic([&] {
    while (!stop) {
      for (const std::string& url : {"http://" + far_ip + ":8080/", "http://" + service_ip + "/"}) {
        ++requests;
        if (ask(url) != "far") ++failures;
      }
      std::this_thread::sleep_for(50ms);
    }
  });
  JoinOnExit joiner(stop, traffic);
  auto upgrade = helm({"upgrade", "petrel", chart(), "-n", "kube-system", "--reuse-values", "--set",
                       "agent.logLevel=debug"});
  ASSERT_TRUE(upgrade.ok()) << upgrade.describe();
  auto rollout = sb_.kubectl(
      {"-n", "kube-system", "rollout", "status", "daemonset/petrel-agent", "--timeout=180s"}, 190s);
  ASSERT_TRUE(rollout.ok()) << rollout.describe();
  std::this_thread::sleep_for(2s);
  stop = true;
  traffic.join();
  EXPECT_EQ(failures.load(), 0) << "of " << requests.load() << " requests during the upgrade";
  const auto after = agentPods();
  for (const auto& [node, pod] : before) {
    EXPECT_NE(after.count(node) ? after.at(node) : pod, pod) << node << "'s agent was not rolled";
  }
  auto args = sb_.kubectlJson({"-n", "kube-system", "get", "daemonset", "petrel-agent"});
  EXPECT_NE(args.dump().find("--log-level=debug"), std::string::npos);

  auto uninstall = helm({"uninstall", "petrel", "-n", "kube-system", "--wait"});
  ASSERT_TRUE(uninstall.ok()) << uninstall.describe();
  ASSERT_TRUE(waitUntil([&] { return agentPods().empty(); }, 60s));
  for (int i = 1; i <= 2; ++i) {
    std::set<std::string> left;
    auto collect = [&] {
      left.clear();
      std::error_code ec;
      for (const std::string& dir :
           {nodeDir(i) + "/net.d", nodeDir(i) + "/cni-bin", nodeBpffs(i)}) {
        for (const auto& e : fs::recursive_directory_iterator(dir, ec)) left.insert(e.path());
      }
      for (const std::string& dev : {"eth0", "petrel_vxlan"}) {
        for (const char* dir : {"ingress", "egress"}) {
          auto tc = inNetns(sb_.prefix() + "-node-" + std::to_string(i),
                            "tc filter show dev " + dev + " " + dir + " 2>/dev/null");
          if (tc.out.find("petrel") != std::string::npos) left.insert(dev + " " + dir);
        }
      }
      return left.empty();
    };
    EXPECT_TRUE(waitUntil(collect, 20s))
        << "node-" << i << " keeps: " << ::testing::PrintToString(left);
  }
}

}  // namespace
}  // namespace petrel::e2e
