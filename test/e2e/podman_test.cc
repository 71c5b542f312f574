// podman as a real CNI client: two containers on a Petrel network (petrel-cni + portmap) ping
// each other and one fetches a page from the other; a host port reaches the server too.
//
// How it is wired: podman 4.3 with network_backend "cni" runs its CNI plugins from its own
// process, in the netns podman itself runs in. So every podman command runs under
// `nsenter --net=<node netns>`; the plugins then create the host veths in the node netns where
// the agent lives, exactly as on a real node. A private containers.conf (CONTAINERS_CONF)
// points network_config_dir at a temp dir holding only our conflist, and cni_plugin_dirs at
// build/bin + /usr/lib/cni. The image is a busybox-static rootfs imported under a unique tag.
#include <algorithm>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

// Owns the podman configuration, the imported image and the containers started through it;
// removes containers (so their CNI DEL reaches the agent), then the image.
class PodmanEnv {
 public:
  PodmanEnv(const Netns& node, const AgentProcess& agent)
      : node_(node),
        network_(uniqueName("pe2enet")),
        image_("localhost/" + uniqueName("pe2eimg") + ":e2e") {
    const auto netDir = dir_ / "net";
    std::filesystem::create_directories(netDir);
    std::ofstream conf(dir_ / "containers.conf");
    conf << podmanEngineConf();
    conf << "[network]\n"
            "network_backend = \"cni\"\n"
            "cni_plugin_dirs = [\""
         << binDir().string() << "\", \"/usr/lib/cni\"]\n"
         << "network_config_dir = \"" << netDir.string() << "\"\n"
         << "default_network = \"" << network_ << "\"\n";
    nlohmann::json petrel = petrelCniConfig(agent);
    petrel.erase("cniVersion");
    petrel.erase("name");
    nlohmann::json conflist = {
        {"cniVersion", "1.0.0"},
        {"name", network_},
        {"plugins", {petrel, {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}}}};
    std::ofstream(netDir / (network_ + ".conflist")) << conflist.dump(2);
  }

  ~PodmanEnv() {
    for (const auto& c : containers_) {
      CmdResult r = podman({"rm", "-f", "-t", "0", c});
      EXPECT_TRUE(r.ok()) << "podman rm " << c << ": " << r.describe();
    }
    if (imported_) {
      CmdResult r = podman({"rmi", "-f", image_});
      EXPECT_TRUE(r.ok()) << "podman rmi " << image_ << ": " << r.describe();
    }
  }

  // Builds a busybox-static rootfs (busybox + applet symlinks, /www/index.html) and imports it.
  ::testing::AssertionResult importImage(const std::string& page) {
    const auto rootfs = dir_ / "rootfs";
    for (const char* d : {"bin", "etc", "www", "tmp"}) {
      std::filesystem::create_directories(rootfs / d);
    }
    std::filesystem::copy_file("/bin/busybox", rootfs / "bin/busybox");
    CmdResult applets = run({"/bin/busybox", "--list"});
    if (!applets.ok()) return ::testing::AssertionFailure() << applets.describe();
    std::istringstream list(applets.out);
    for (std::string applet; std::getline(list, applet);) {
      if (!applet.empty() && applet != "busybox") {
        std::filesystem::create_symlink("busybox", rootfs / "bin" / applet);
      }
    }
    std::ofstream(rootfs / "etc/passwd") << "root:x:0:0:root:/:/bin/sh\n";
    std::ofstream(rootfs / "etc/group") << "root:x:0:\n";
    std::ofstream(rootfs / "www/index.html") << page << "\n";
    const auto tarball = dir_ / "rootfs.tar";
    CmdResult tar = run({"tar", "-C", rootfs.string(), "-cf", tarball.string(), "."});
    if (!tar.ok()) return ::testing::AssertionFailure() << "tar: " << tar.describe();
    CmdResult imp = podman({"import", tarball.string(), image_});
    if (!imp.ok()) return ::testing::AssertionFailure() << "podman import: " << imp.describe();
    imported_ = true;
    return ::testing::AssertionSuccess();
  }

  // `podman <args>` inside the node netns with the private configuration.
  CmdResult podman(const std::vector<std::string>& args, Millis timeout = 90s) const {
    std::vector<std::string> argv = {"podman"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions options;
    options.timeout = timeout;
    options.env = {{"CONTAINERS_CONF", (dir_ / "containers.conf").string()}};
    return node_.exec(argv, options);
  }

  // Starts a detached container; it is removed on destruction.
  CmdResult runDetached(const std::string& name, const std::vector<std::string>& extra,
                        const std::vector<std::string>& cmd) {
    std::vector<std::string> args = {"run", "-d", "--name", name, "--network", network_};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(image_);
    args.insert(args.end(), cmd.begin(), cmd.end());
    containers_.push_back(name);
    return podman(args);
  }

  // Runs a container to completion (removed afterwards by podman itself).
  CmdResult runOnce(const std::string& name, const std::vector<std::string>& cmd) {
    std::vector<std::string> args = {"run", "--rm", "--name", name, "--network", network_, image_};
    args.insert(args.end(), cmd.begin(), cmd.end());
    return podman(args);
  }

  std::string ipOf(const std::string& container) const {
    CmdResult r = podman({"inspect", container, "--format",
                          "{{(index .NetworkSettings.Networks \"" + network_ + "\").IPAddress}}"});
    std::string ip = r.out;
    while (!ip.empty() && (ip.back() == '\n' || ip.back() == ' ')) ip.pop_back();
    return ip;
  }

  const std::string& network() const { return network_; }

 private:
  const Netns& node_;
  TempDir dir_{"pe2epodman"};
  std::string network_;
  std::string image_;
  bool imported_ = false;
  std::vector<std::string> containers_;
};

TEST(PodmanTest, ContainersOnPetrelNetworkPingAndServeHttp) {
  ASSERT_TRUE(requireBasics());
  for (const char* tool : {"podman", "runc", "busybox", "tar", "curl"}) {
    ASSERT_TRUE(requireTool(tool));
  }
  Netns node("pe2en");
  AgentProcess agent(node);
  ASSERT_TRUE(agent.start());
  std::string page = uniqueName("petrel-podman-page");
  {
    PodmanEnv env(node, agent);
    ASSERT_TRUE(env.importImage(page));

    const std::string server = uniqueName("pe2e-srv");
    uint16_t hostPort = uniquePort();
    CmdResult srv = env.runDetached(server, {"-p", std::to_string(hostPort) + ":80"},
                                    {"httpd", "-f", "-p", "80", "-h", "/www"});
    ASSERT_TRUE(srv.ok()) << "podman run (server): " << srv.describe() << "\nagent log:\n"
                          << agent.log();
    const std::string serverIp = env.ipOf(server);
    ASSERT_EQ(serverIp.rfind("10.244.0.", 0), 0u)
        << "server IP '" << serverIp << "' not from the Petrel pod CIDR";

    // The agent knows the container as an endpoint.
    std::string error;
    nlohmann::json eps = agent.endpoints(&error);
    ASSERT_FALSE(eps.is_null()) << error;
    EXPECT_NE(eps.dump().find("\"" + serverIp + "\""), std::string::npos) << eps.dump(2);

    // A second container pings the first and fetches its page (busybox wget: no -T).
    CmdResult cli = env.runOnce(uniqueName("pe2e-cli"),
                                {"sh", "-c",
                                 "ip -4 -o addr show eth0 && ping -c 2 -W 2 " + serverIp +
                                     " && wget -q -O - http://" + serverIp + "/index.html"});
    EXPECT_TRUE(cli.ok()) << "client container: " << cli.describe() << "\nagent log:\n"
                          << agent.log();
    EXPECT_NE(cli.out.find(page), std::string::npos) << cli.out;
    EXPECT_NE(cli.out.find("10.244.0."), std::string::npos)
        << "client not on the Petrel network: " << cli.out;

    // The host port (portmap, chained after petrel-cni) reaches the server from the node.
    CmdResult curl = node.exec({"curl", "-sS", "--max-time", "5",
                                "http://10.244.0.1:" + std::to_string(hostPort) + "/index.html"});
    EXPECT_TRUE(curl.ok()) << "hostPort via portmap: " << curl.describe();
    EXPECT_NE(curl.out.find(page), std::string::npos) << curl.out;
  }
  // PodmanEnv removed the containers: their endpoints are gone and no host veth is left.
  std::string error;
  nlohmann::json eps = agent.endpoints(&error);
  ASSERT_FALSE(eps.is_null()) << error;
  EXPECT_TRUE(eps.empty()) << "endpoints left after podman rm: " << eps.dump(2);
  for (const auto& link : node.links()) {
    EXPECT_NE(link.rfind("lxc", 0), 0u) << "host veth " << link << " left after podman rm";
  }
  CmdResult nat = node.exec({"iptables-save", "-t", "nat"});
  EXPECT_EQ(nat.out.find("CNI-DN-"), std::string::npos) << "portmap rules left: " << nat.out;
}

}  // namespace
}  // namespace petrel::e2e
