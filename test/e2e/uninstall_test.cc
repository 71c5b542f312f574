// End-to-end: what an uninstall leaves on a node. A real petrel-agent in a node namespace with an
// uplink (tc + native XDP on a veth) and a pod wired by petrel-cni is stopped with SIGTERM: with
// no API it cannot be an uninstall, so pins, programs and devices stay. `petrel-agent cleanup`
// with the same flags then removes Petrel's tc and XDP programs from every link (another
// filter on the uplink and other files in the CNI directories stay), the overlay and host
// devices, every pin, the state directory and the CNI config and plugin; a second run finds
// nothing and exits 0. Needs root, ip and tc.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

namespace fs = std::filesystem;

void writeFile(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Petrel's programs attached in `node`: the tc filters (ingress and egress) and XDP programs of
// every link, one line each as tc and ip show them; "" when there are none.
std::string petrelAttachments(const Netns& node) {
  std::string found;
  for (const auto& link : node.links()) {
    for (const char* dir : {"ingress", "egress"}) {
      CmdResult r = node.exec({"tc", "filter", "show", "dev", link, dir});
      std::istringstream lines(r.out);
      for (std::string line; std::getline(lines, line);) {
        if (line.find("petrel_") != std::string::npos)
          found += link + " " + dir + ": " + line + "\n";
      }
    }
    CmdResult r = node.exec({"ip", "-d", "link", "show", "dev", link});
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("prog/xdp") != std::string::npos) found += link + " xdp: " + line + "\n";
    }
  }
  return found;
}

bool hasLink(const Netns& node, const std::string& name) {
  auto links = node.links();
  return std::find(links.begin(), links.end(), name) != links.end();
}

class Uninstall : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireBasics());
    ASSERT_TRUE(requireTool("tc"));
  }
};

TEST_F(Uninstall, StopKeepsTheDatapathAndCleanupRemovesEverythingPetrelMade) {
  Netns node("pe2eu");
  Netns outside("pe2eo");
  // The uplink: a veth to `outside` holding the default route.
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"ip", "-n", node.name(), "link", "add", "upl0", "type", "veth", "peer", "name", "upl1",
            "netns", outside.name()},
           {"ip", "-n", node.name(), "addr", "add", "192.168.231.1/24", "dev", "upl0"},
           {"ip", "-n", outside.name(), "addr", "add", "192.168.231.2/24", "dev", "upl1"},
           {"ip", "-n", node.name(), "link", "set", "upl0", "up"},
           {"ip", "-n", outside.name(), "link", "set", "upl1", "up"},
           {"ip", "-n", node.name(), "route", "add", "default", "via", "192.168.231.2"}}) {
    CmdResult r = run(cmd);
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  AgentOptions options;
  options.extraArgs = {"--lb-acceleration", "native"};
  AgentProcess agent(node, options);
  ASSERT_TRUE(agent.start());
  CniPod pod(node, agent);
  ASSERT_TRUE(pod.add());
  const std::string pod_veth = pod.hostIfname();
  ASSERT_FALSE(pod_veth.empty()) << pod.result().dump();
  // Another program's filter on the uplink, which cleanup must leave alone.
  CmdResult other = node.exec({"tc", "filter", "add", "dev", "upl0", "ingress", "prio", "7", "u32",
                               "match", "u32", "0", "0"});
  ASSERT_TRUE(other.ok()) << other.describe();

  const std::string before = petrelAttachments(node);
  for (const std::string& want :
       std::vector<std::string>{"upl0 ingress", "upl0 egress", "upl0 xdp", "petrel_vxlan ingress",
                                "petrel_vxlan egress", pod_veth + " ingress"}) {
    EXPECT_NE(before.find(want), std::string::npos) << want << " missing in:\n" << before;
  }

  // SIGTERM without an API: not an uninstall, so everything stays for the next agent.
  ASSERT_TRUE(agent.stop());
  EXPECT_NE(agent.log().find("keeping the datapath"), std::string::npos) << agent.log();
  EXPECT_TRUE(fs::exists(agent.bpfRoot() + "/petrel_ct"));
  EXPECT_TRUE(fs::exists(agent.bpfRoot() + "/links/sock_connect4"));
  EXPECT_EQ(petrelAttachments(node), before);
  EXPECT_TRUE(hasLink(node, "petrel_vxlan"));
  EXPECT_TRUE(hasLink(node, "petrel_host"));

  TempDir cni("pe2eu-cni");
  fs::create_directories(cni / "net.d");
  fs::create_directories(cni / "bin");
  writeFile(cni / "net.d" / "10-petrel.conflist", "{}\n");
  writeFile(cni / "net.d" / "99-other.conflist", "{}\n");
  writeFile(cni / "bin" / "petrel-cni", "#!/bin/sh\n");
  writeFile(cni / "bin" / "portmap", "#!/bin/sh\n");
  const std::vector<std::string> cleanup = {(binDir() / "petrel-agent").string(),
                                            "cleanup",
                                            "--bpf-root",
                                            agent.bpfRoot(),
                                            "--state-dir",
                                            agent.stateDir(),
                                            "--socket",
                                            agent.socket(),
                                            "--cni-conf-dir",
                                            (cni / "net.d").string(),
                                            "--cni-bin-dir",
                                            (cni / "bin").string()};
  CmdResult first = node.exec(cleanup);
  ASSERT_TRUE(first.ok()) << first.describe();
  for (const std::string& line : std::vector<std::string>{
           "removed CNI config " + (cni / "net.d" / "10-petrel.conflist").string(),
           "removed tc ingress program petrel_lxc_from on " + pod_veth,
           std::string("removed tc egress program petrel_uplink_e on upl0"),
           std::string("removed XDP program petrel_uplink_x (driver mode) on upl0"),
           std::string("removed device petrel_vxlan"), std::string("removed device petrel_host"),
           "removed cgroup socket LB link " + agent.bpfRoot() + "/links/sock_connect4 (detached)",
           "removed pinned map " + agent.bpfRoot() + "/petrel_ct",
           "removed directory " + agent.bpfRoot(), "removed state directory " + agent.stateDir(),
           "removed CNI plugin " + (cni / "bin" / "petrel-cni").string()}) {
    EXPECT_NE(first.out.find(line + "\n"), std::string::npos) << line << " missing in:\n"
                                                              << first.out;
  }
  EXPECT_NE(first.out.find(" 0 failures\n"), std::string::npos) << first.out;

  EXPECT_EQ(petrelAttachments(node), "");
  EXPECT_FALSE(fs::exists(agent.bpfRoot()));
  EXPECT_FALSE(fs::exists(agent.stateDir()));
  for (const char* dev : {"petrel_vxlan", "petrel_host", "petrel_net"}) {
    EXPECT_FALSE(hasLink(node, dev)) << dev;
  }
  EXPECT_TRUE(hasLink(node, "upl0"));
  EXPECT_TRUE(hasLink(node, pod_veth));  // the pod's, left to its runtime
  CmdResult kept = node.exec({"tc", "filter", "show", "dev", "upl0", "ingress"});
  EXPECT_NE(kept.out.find("pref 7 u32"), std::string::npos) << kept.describe();
  EXPECT_FALSE(fs::exists(cni / "net.d" / "10-petrel.conflist"));
  EXPECT_FALSE(fs::exists(cni / "bin" / "petrel-cni"));
  EXPECT_TRUE(fs::exists(cni / "net.d" / "99-other.conflist"));
  EXPECT_TRUE(fs::exists(cni / "bin" / "portmap"));

  CmdResult second = node.exec(cleanup);
  EXPECT_TRUE(second.ok()) << second.describe();
  EXPECT_EQ(second.out, "removed 0 things, 0 failures\n") << second.describe();

  // The agent is gone, as on a node after an uninstall: DEL cannot reach it; the pod's
  // namespace (and its veth) goes with the pod.
  (void)pod.del();
}

}  // namespace
}  // namespace petrel::e2e
