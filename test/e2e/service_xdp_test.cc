// End-to-end: the XDP fast path of NodePort Services (--lb-acceleration native), in a 2-node
// sandbox in both routing modes (tunnel mode with either overlay device). The only backends are
// on node-2, so every request to node-1's NodePort from the underlay is translated and sent on by
// node-1's XDP program (wrapped in VXLAN in tunnel mode), and the answers come back through it;
// the per-reason counters prove it was XDP and not tc. Needs root, kubectl, curl, socat.
#include <set>
#include <string>
#include <vector>

#include "test/e2e/harness.h"
#include "test/e2e/sandbox_cluster.h"

namespace petrel::e2e {
namespace {

using nlohmann::json;

std::string xdpBackend(const std::string& name) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
         ", labels: {app: xweb}}\nspec:\n  nodeName: node-2\n  containers:\n  - name: main\n"
         "    image: petrel/workload\n    command: [" +
         (binDir() / "petrel-workload").string() + ", --name, " + name +
         "]\n    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}\n---\n";
}

class ServicesXdp : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireBasics());
    for (const char* tool : {"kubectl", "curl", "socat", "ethtool"}) ASSERT_TRUE(requireTool(tool));
    ASSERT_TRUE(requireFile(binDir() / "petrel-sandbox", "build it with scripts/build.sh"));
  }
};

TEST_P(ServicesXdp, NodePortToAnotherNodeGoesThroughXdpBothWays) {
  Sandbox sb;
  // Tunnel mode with either overlay device (collect-md, the default, must take the VXLAN-GBP
  // packets the XDP program builds), or native routing.
  const std::vector<std::string> routing =
      GetParam() == "native"
          ? std::vector<std::string>{"--routing-mode", "native"}
          : std::vector<std::string>{"--routing-mode", "tunnel", "--vxlan-mode", GetParam()};
  std::vector<std::string> flags = {"--lb-acceleration", "native"};
  flags.insert(flags.end(), routing.begin(), routing.end());
  ASSERT_TRUE(sb.up(2, flags));
  auto link = inNetns(sb.prefix() + "-node-1", "ip link show eth0");
  EXPECT_NE(link.out.find(" xdp "), std::string::npos) << "no XDP program on eth0: " << link.out;
  ASSERT_TRUE(sb.apply(xdpBackend("xweb-a") + xdpBackend("xweb-b") +
                       "apiVersion: v1\nkind: Service\nmetadata: {name: xweb}\nspec:\n"
                       "  type: NodePort\n  selector: {app: xweb}\n  ports:\n"
                       "  - {name: http, port: 80, targetPort: 8080}\n"
                       "  - {name: udp, port: 53, targetPort: 9001, protocol: UDP}\n"));
  ASSERT_TRUE(sb.waitReady({"xweb-a", "xweb-b"}));
  json svc = sb.kubectlJson({"get", "service", "xweb"});
  const std::string tcp_port = std::to_string(svc["spec"]["ports"][0]["nodePort"].get<int>());
  const std::string udp_port = std::to_string(svc["spec"]["ports"][1]["nodePort"].get<int>());
  auto pods = sb.pods();
  const std::set<std::string> both = {
      pods["xweb-a"]["status"]["podIP"].get<std::string>() + ":8080 active",
      pods["xweb-b"]["status"]["podIP"].get<std::string>() + ":8080 active"};
  ASSERT_TRUE(sb.waitFrontendBackends(1, sb.nodeIp(1) + ":" + tcp_port + "/TCP", both));

  const uint64_t forwarded = sb.datapathCount(1, "service-forwarded-xdp");
  const uint64_t replied = sb.datapathCount(1, "service-reply-xdp");
  std::set<std::string> seen;
  int answered = 0;
  constexpr int kRequests = 30;
  for (int i = 0; i < kRequests; ++i) {
    auto body = trim(httpGet(sb.underlayNetns(), "http://" + sb.nodeIp(1) + ":" + tcp_port + "/"));
    if (!body.empty()) ++answered;
    seen.insert(body);
  }
  EXPECT_EQ(answered, kRequests);
  EXPECT_EQ(seen, (std::set<std::string>{"xweb-a", "xweb-b"}));
  for (int i = 0; i < 5; ++i) {
    auto udp = inNetns(sb.underlayNetns(), "echo q" + std::to_string(i) + " | socat -t 2 - UDP:" +
                                               sb.nodeIp(1) + ":" + udp_port);
    EXPECT_TRUE(udp.out == "xweb-a q" + std::to_string(i) + "\n" ||
                udp.out == "xweb-b q" + std::to_string(i) + "\n")
        << udp.describe();
  }
  // Each TCP request is at least SYN, ACK+request, FIN/ACK one way and SYN-ACK, answer, FIN the
  // other; each UDP request one packet each way. All of them through XDP on node-1.
  EXPECT_GE(sb.datapathCount(1, "service-forwarded-xdp") - forwarded, uint64_t{3 * kRequests + 5});
  EXPECT_GE(sb.datapathCount(1, "service-reply-xdp") - replied, uint64_t{3 * kRequests + 5});
}

INSTANTIATE_TEST_SUITE_P(RoutingModes, ServicesXdp,
                         ::testing::Values("collect-md", "classic", "native"),
                         [](const auto& info) {
                           return info.param == "collect-md" ? "collect_md" : info.param;
                         });

}  // namespace
}  // namespace petrel::e2e
