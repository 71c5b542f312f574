// End-to-end: Services in a 3-node sandbox in native routing mode (no VXLAN: pod CIDRs routed via
// the nodes' underlay addresses). Backends live on node-2 and node-3 only, so every connection
// crosses the underlay unencapsulated: a client pod on node-1 reaches both through a ClusterIP
// (TCP and UDP), and the underlay namespace reaches both through node-1's NodePort.
// Needs root, kubectl, curl, socat.
#include <set>
#include <sstream>
#include <string>

#include "test/e2e/harness.h"
#include "test/e2e/sandbox_cluster.h"

namespace petrel::e2e {
namespace {

using nlohmann::json;

// A petrel-workload pod on `node` labelled app=nweb, Ready once it serves HTTP.
std::string nativeBackend(const std::string& name, const std::string& node) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
         ", labels: {app: nweb}}\nspec:\n  nodeName: " + node +
         "\n  containers:\n  - name: main\n    image: petrel/workload\n    command: [" +
         (binDir() / "petrel-workload").string() + ", --name, " + name +
         "]\n    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}\n---\n";
}

class ServicesNative : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireBasics());
    for (const char* tool : {"kubectl", "curl", "socat"}) ASSERT_TRUE(requireTool(tool));
    ASSERT_TRUE(requireFile(binDir() / "petrel-sandbox", "build it with scripts/build.sh"));
  }
};

TEST_F(ServicesNative, ClusterIpAndNodePortReachBackendsOnOtherNodes) {
  Sandbox sb;
  ASSERT_TRUE(sb.up(3, {"--routing-mode", "native"}));
  ASSERT_TRUE(
      sb.apply(nativeBackend("nweb-2", "node-2") + nativeBackend("nweb-3", "node-3") +
               workloadPodOn("nclient", "node-1") +
               "apiVersion: v1\nkind: Service\nmetadata: {name: nweb}\nspec:\n  type: NodePort\n"
               "  selector: {app: nweb}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n"
               "  - {name: udp, port: 53, targetPort: 9001, protocol: UDP}\n"));
  ASSERT_TRUE(sb.waitReady({"nweb-2", "nweb-3", "nclient"}));
  json svc = sb.kubectlJson({"get", "service", "nweb"});
  const std::string cluster_ip = svc["spec"]["clusterIP"];
  const std::string node_port = std::to_string(svc["spec"]["ports"][0]["nodePort"].get<int>());
  auto pods = sb.pods();
  const std::set<std::string> both = {
      pods["nweb-2"]["status"]["podIP"].get<std::string>() + ":8080 active",
      pods["nweb-3"]["status"]["podIP"].get<std::string>() + ":8080 active"};
  ASSERT_TRUE(sb.waitFrontendBackends(1, cluster_ip + ":80/TCP", both));
  ASSERT_TRUE(sb.waitFrontendBackends(1, sb.nodeIp(1) + ":" + node_port + "/TCP", both));
  // No tunnel device: what crosses nodes below is routed, not encapsulated.
  auto vxlan = inNetns(sb.prefix() + "-node-1", "ip link show petrel_vxlan 2>&1 || true");
  EXPECT_NE(vxlan.out.find("does not exist"), std::string::npos) << vxlan.out;

  // ClusterIP from the client pod on node-1 (its namespace and node-1's cgroup).
  const std::string client = sb.podNetns()["nclient"];
  auto http = run(sb.asPodOn(
      1, client, "for i in $(seq 20); do curl -s -m 3 http://" + cluster_ip + "/; echo; done"));
  std::set<std::string> seen;
  std::istringstream lines(http.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) seen.insert(line);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"nweb-2", "nweb-3"})) << http.describe();
  auto udp = run(sb.asPodOn(1, client, "echo hi | socat -t 2 - UDP:" + cluster_ip + ":53"));
  EXPECT_TRUE(udp.out == "nweb-2 hi\n" || udp.out == "nweb-3 hi\n") << udp.describe();

  // NodePort on node-1 from the underlay: node-1 has no backend, so each goes to another node.
  seen.clear();
  for (int i = 0; i < 20; ++i) {
    seen.insert(
        trim(httpGet(sb.underlayNetns(), "http://" + sb.nodeIp(1) + ":" + node_port + "/")));
  }
  EXPECT_EQ(seen, (std::set<std::string>{"nweb-2", "nweb-3"}));
}

}  // namespace
}  // namespace petrel::e2e
