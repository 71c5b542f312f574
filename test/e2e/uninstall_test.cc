// End-to-end: what an uninstall leaves on a node. A real petrel-agent in a node namespace with an
// uplink (tc + native XDP on a veth) and a pod wired by petrel-cni is stopped with SIGTERM: with
// no API it cannot be an uninstall, so pins, programs and devices stay. `petrel-agent cleanup`
// with the same flags then removes Petrel's tc and XDP programs from every link (another
// filter on the uplink and other files in the CNI directories stay), the overlay and host
// devices, every pin, the state directory and the CNI config and plugin; a second run finds
// nothing and exits 0. Then the agent as a DaemonSet's pod, its API a stand-in that answers the
// two requests of the uninstall check: stopped while the DaemonSet is there it keeps everything;
// stopped after the DaemonSet is gone it removes everything itself. Needs root, ip, tc, socat.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
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

// The API as the uninstall check sees it, served by socat in the node's namespace over plain
// HTTP: Pod kube-system/petrel-x7k2p owned by DaemonSet kube-system/petrel, and that DaemonSet
// answered with what daemonSet() last set; every other request (the agent's watches) 404.
class StandInApi {
 public:
  StandInApi(const Netns& node, const TempDir& dir) : dir_(dir.path()), port_(uniquePort()) {
    writeFile(dir_ / "pod.json",
              R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"petrel-x7k2p",)"
              R"("namespace":"kube-system","ownerReferences":[{"apiVersion":"apps/v1",)"
              R"("kind":"DaemonSet","name":"petrel","uid":"u-1","controller":true}]}})");
    writeFile(dir_ / "none.json", R"({"kind":"Status","code":404,"reason":"NotFound"})");
    // One request per connection (socat forks): the request line, the headers, one answer.
    writeFile(dir_ / "serve.sh",
              "d=$(dirname \"$0\")\n"
              "read -r method path version\n"
              "while read -r line; do\n"
              "  [ \"$(printf '%s' \"$line\" | tr -d '\\r')\" = '' ] && break\n"
              "done\n"
              "code='404 Not Found'; f=$d/none.json\n"
              "case \"$path\" in\n"
              "  /api/v1/namespaces/kube-system/pods/petrel-x7k2p)\n"
              "    code='200 OK'; f=$d/pod.json;;\n"
              "  /apis/apps/v1/namespaces/kube-system/daemonsets/petrel)\n"
              "    code=$(cat $d/ds.status); f=$d/ds.json;;\n"
              "esac\n"
              "body=$(cat \"$f\")\n"
              "printf 'HTTP/1.1 %s\\r\\nContent-Type: application/json\\r\\n' \"$code\"\n"
              "printf 'Content-Length: %s\\r\\nConnection: close\\r\\n\\r\\n%s' \"${#body}\" "
              "\"$body\"\n");
    writeFile(dir_ / "kubeconfig",
              "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n"
              "  cluster:\n    server: http://127.0.0.1:" +
                  std::to_string(port_) +
                  "\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n"
                  "  context:\n    cluster: c\n    user: u\n");
    server_ = std::make_unique<BackgroundProcess>(
        node.wrap({"socat",
                   "TCP-LISTEN:" + std::to_string(port_) + ",bind=127.0.0.1,fork,reuseaddr",
                   "EXEC:sh " + (dir_ / "serve.sh").string()}),
        dir_ / "socat.log");
  }
  // GET of the DaemonSet answers `status` ("200 OK") with `body`.
  void daemonSet(const std::string& status, const std::string& body) {
    writeFile(dir_ / "ds.status", status + "\n");
    writeFile(dir_ / "ds.json", body);
  }
  std::string kubeconfig() const { return (dir_ / "kubeconfig").string(); }

 private:
  fs::path dir_;
  uint16_t port_;
  std::unique_ptr<BackgroundProcess> server_;
};

class Uninstall : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireBasics());
    ASSERT_TRUE(requireTool("tc"));
    // The uplink: a veth to `outside` holding the default route.
    for (const auto& cmd : std::vector<std::vector<std::string>>{
             {"ip", "-n", node_.name(), "link", "add", "upl0", "type", "veth", "peer", "name",
              "upl1", "netns", outside_.name()},
             {"ip", "-n", node_.name(), "addr", "add", "192.168.231.1/24", "dev", "upl0"},
             {"ip", "-n", outside_.name(), "addr", "add", "192.168.231.2/24", "dev", "upl1"},
             {"ip", "-n", node_.name(), "link", "set", "upl0", "up"},
             {"ip", "-n", outside_.name(), "link", "set", "upl1", "up"},
             {"ip", "-n", node_.name(), "route", "add", "default", "via", "192.168.231.2"}}) {
      CmdResult r = run(cmd);
      ASSERT_TRUE(r.ok()) << r.describe();
    }
    fs::create_directories(cni_ / "net.d");
    fs::create_directories(cni_ / "bin");
    writeFile(cni_ / "net.d" / "10-petrel.conflist", "{}\n");
    writeFile(cni_ / "net.d" / "99-other.conflist", "{}\n");
    writeFile(cni_ / "bin" / "petrel-cni", "#!/bin/sh\n");
    writeFile(cni_ / "bin" / "portmap", "#!/bin/sh\n");
  }

  Netns node_{"pe2eu"};
  Netns outside_{"pe2eo"};
  TempDir cni_{"pe2eu-cni"};
};

TEST_F(Uninstall, StopKeepsTheDatapathAndCleanupRemovesEverythingPetrelMade) {
  const Netns& node = node_;
  const TempDir& cni = cni_;
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
  EXPECT_EQ(first.err, "");  // failures only; links without Petrel's filter are no failure
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
  EXPECT_EQ(second.err, "");

  // The agent is gone, as on a node after an uninstall: DEL cannot reach it; the pod's
  // namespace (and its veth) goes with the pod.
  (void)pod.del();
}

TEST_F(Uninstall, AnAgentWhoseDaemonSetIsGoneRemovesEverythingAtItsStop) {
  ASSERT_TRUE(requireTool("socat"));
  TempDir dir("pe2eu-api");
  StandInApi api(node_, dir);
  const std::string ds =
      R"({"kind":"DaemonSet","apiVersion":"apps/v1","metadata":{"name":"petrel",)"
      R"("namespace":"kube-system","uid":"u-1"}})";
  api.daemonSet("200 OK", ds);
  AgentOptions options;
  options.extraArgs = {"--kubeconfig",   api.kubeconfig(),
                       "--cni-conf-dir", (cni_ / "net.d").string(),
                       "--cni-bin-dir",  (cni_ / "bin").string()};
  options.env = {{"POD_NAME", "petrel-x7k2p"}, {"POD_NAMESPACE", "kube-system"}};
  AgentProcess agent(node_, options);

  // A rolling upgrade: the DaemonSet is there.
  ASSERT_TRUE(agent.start());
  ASSERT_TRUE(agent.stop());
  EXPECT_NE(agent.log().find(
                "DaemonSet kube-system/petrel present: keeping the datapath for the next agent"),
            std::string::npos)
      << agent.log();
  EXPECT_TRUE(fs::exists(agent.bpfRoot() + "/petrel_ct"));
  EXPECT_TRUE(hasLink(node_, "petrel_vxlan"));
  EXPECT_NE(petrelAttachments(node_), "");
  EXPECT_TRUE(fs::exists(cni_ / "net.d" / "10-petrel.conflist"));

  // Marked for deletion by a foreground delete, then gone: both are an uninstall.
  for (const auto& [status, body] : std::vector<std::pair<std::string, std::string>>{
           {"200 OK", R"({"kind":"DaemonSet","apiVersion":"apps/v1","metadata":{"name":"petrel",)"
                      R"("namespace":"kube-system","uid":"u-1",)"
                      R"("deletionTimestamp":"2026-12-08T00:00:00Z"}})"},
           {"404 Not Found", R"({"kind":"Status","code":404,"reason":"NotFound"})"}}) {
    SCOPED_TRACE(status);
    writeFile(cni_ / "net.d" / "10-petrel.conflist", "{}\n");  // as the init container does
    writeFile(cni_ / "bin" / "petrel-cni", "#!/bin/sh\n");
    api.daemonSet("200 OK", ds);
    ASSERT_TRUE(agent.start());
    api.daemonSet(status, body);
    ASSERT_TRUE(agent.stop());
    const std::string log = agent.log();
    EXPECT_NE(log.find(status == "200 OK" ? "DaemonSet kube-system/petrel is being deleted: "
                                            "uninstall, removing"
                                          : "DaemonSet kube-system/petrel is gone: uninstall, "
                                            "removing"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("cleanup: removed device petrel_vxlan"), std::string::npos) << log;
    EXPECT_NE(log.find(" 0 failures"), std::string::npos) << log;
    EXPECT_EQ(petrelAttachments(node_), "");
    EXPECT_FALSE(fs::exists(agent.bpfRoot()));
    for (const char* dev : {"petrel_vxlan", "petrel_host", "petrel_net"}) {
      EXPECT_FALSE(hasLink(node_, dev)) << dev;
    }
    EXPECT_FALSE(fs::exists(cni_ / "net.d" / "10-petrel.conflist"));
    EXPECT_FALSE(fs::exists(cni_ / "bin" / "petrel-cni"));
    EXPECT_TRUE(fs::exists(cni_ / "net.d" / "99-other.conflist"));
    EXPECT_TRUE(fs::exists(cni_ / "bin" / "portmap"));
  }
}

}  // namespace
}  // namespace petrel::e2e
