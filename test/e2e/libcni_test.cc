// libcni as a real CNI client: a small Go driver (test/e2e/libcni/main.go), built here as a Go
// module pinning github.com/containernetworking/cni (test/e2e/libcni/go.mod, fetched through
// the Go module proxy once, then from the module cache), runs ADD, CHECK and DEL
// of a conflist (petrel-cni + portmap, with portMappings capability args on every call) the
// way containerd and CRI-O do, with the libcni cache in a temp dir.
//
// portmap 1.1.1 (Debian 12) has a CHECK bug on IPv4-only pods when ip6tables exists
// (containernetworking/plugins#819: it looks for an IPv6 DNAT chain it never created). The
// plugins therefore run with a PATH whose sbin part holds only the iptables (v4) tools.
#include <algorithm>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

namespace fs = std::filesystem;

class LibcniTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireRoot());
    for (const char* tool : {"go", "nsenter", "curl", "busybox", "iptables-save"}) {
      ASSERT_TRUE(requireTool(tool));
    }
    ASSERT_TRUE(requireFile("/usr/lib/cni/portmap", "install containernetworking-plugins"));
    buildDriver();
    makeSbinShim();
  }

  // Builds the driver once per test binary run (Go builds take seconds on two busy cores).
  void buildDriver() {
    if (!driverDir_) {
      driverDir_ = std::make_unique<TempDir>("pe2elibcnidrv");
      const fs::path out = driverDir_->path() / "petrel-libcni-driver";
      RunOptions options;
      options.timeout = 300s;
      options.env = {{"GO111MODULE", "on"}, {"GOFLAGS", "-mod=readonly"}, {"CGO_ENABLED", "0"}};
      // go 1.19 (Debian's) has no `build -C`: build from the module's directory.
      buildResult_ = sh("cd '" + (sourceDir() / "test/e2e/libcni").string() + "' && go build -o '" +
                            out.string() + "' .",
                        options);
      if (buildResult_.ok()) driverPath_ = out;
    }
    ASSERT_FALSE(driverPath_.empty())
        << "go build of the libcni driver (module test/e2e/libcni; the first build needs the Go "
           "module proxy or a filled module cache): "
        << buildResult_.describe();
    driver_ = driverPath_;
  }

  static void TearDownTestSuite() { driverDir_.reset(); }

  // A directory with only the IPv4 iptables tools (see the note at the top of this file).
  void makeSbinShim() {
    shim_ = tmp_ / "sbin";
    fs::create_directories(shim_);
    for (const char* tool :
         {"iptables", "iptables-save", "iptables-restore", "iptables-legacy",
          "iptables-legacy-save", "iptables-legacy-restore", "iptables-nft", "iptables-nft-save",
          "iptables-nft-restore", "xtables-nft-multi", "xtables-legacy-multi"}) {
      fs::path target = fs::path("/usr/sbin") / tool;
      if (fs::exists(target)) fs::create_symlink(target, shim_ / tool);
    }
  }

  // Runs the driver inside `node`; `pluginDirs` is colon-separated.
  CmdResult driver(const Netns& node, const std::string& command, const fs::path& conflist,
                   const std::string& pluginDirs, const std::string& netns, const std::string& id,
                   const std::string& portMappings) {
    RunOptions options;
    options.timeout = 60s;
    options.env = {{"PATH", shim_.string() + ":/usr/local/bin:/usr/bin:/bin"}};
    return node.exec({driver_.string(), "-conflist", conflist.string(), "-plugin-dir", pluginDirs,
                      "-cache-dir", (tmp_ / "cache").string(), "-netns", netns, "-id", id,
                      "-port-mappings", portMappings, command},
                     options);
  }

  // Files under the libcni cache dir (results are cached per network/container/ifname).
  std::vector<std::string> cachedFiles() const {
    std::vector<std::string> files;
    std::error_code ec;
    if (!fs::exists(tmp_ / "cache")) return files;
    for (const auto& e : fs::recursive_directory_iterator(tmp_ / "cache", ec)) {
      if (e.is_regular_file()) files.push_back(e.path().string());
    }
    return files;
  }

  // Serves `page` with busybox httpd on `port` inside `pod`.
  std::unique_ptr<BackgroundProcess> serve(const Netns& pod, uint16_t port,
                                           const std::string& page) {
    fs::create_directories(tmp_ / "www");
    std::ofstream(tmp_ / "www/index.html") << page << "\n";
    auto p = std::make_unique<BackgroundProcess>(
        pod.wrap(
            {"busybox", "httpd", "-f", "-p", std::to_string(port), "-h", (tmp_ / "www").string()}),
        tmp_ / "httpd.log");
    EXPECT_TRUE(waitUntil(
        [&] { return pod.sh("ss -Htln | grep -q ':" + std::to_string(port) + " '").ok(); }, 5s))
        << "httpd did not start in " << pod.name();
    return p;
  }

  static std::string portMappings(uint16_t hostPort, uint16_t containerPort) {
    return nlohmann::json::array(
               {{{"hostPort", hostPort}, {"containerPort", containerPort}, {"protocol", "tcp"}}})
        .dump();
  }

  static inline std::unique_ptr<TempDir> driverDir_;
  static inline fs::path driverPath_;
  static inline CmdResult buildResult_;

  TempDir tmp_{"pe2elibcni"};
  fs::path driver_;
  fs::path shim_;
};

// The driver itself against the reference bridge + host-local + portmap plugins: proves the
// client side of this tier independently of Petrel.
TEST_P(LibcniTest, DriverWorksWithReferenceBridgePlugin) {
  Netns node("pe2en");
  Netns pod("pe2ep");
  const std::string bridge = "pe2ebr" + std::to_string(getpid() % 100000);
  nlohmann::json conflist = {{"cniVersion", GetParam()},
                             {"name", "pe2e-bridge"},
                             {"plugins",
                              {{{"type", "bridge"},
                                {"bridge", bridge},
                                {"isGateway", true},
                                {"ipam",
                                 {{"type", "host-local"},
                                  {"ranges", {{{{"subnet", "10.97.0.0/24"}}}}},
                                  {"dataDir", (tmp_ / "ipam").string()}}}},
                               {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}}}};
  const auto file = tmp_ / "bridge.conflist";
  std::ofstream(file) << conflist.dump();
  const uint16_t hostPort = uniquePort();
  const std::string pm = portMappings(hostPort, 8080);

  CmdResult add = driver(node, "add", file, "/usr/lib/cni", pod.path(), "pe2e-bridge-c1", pm);
  ASSERT_TRUE(add.ok()) << add.describe();
  auto server = serve(pod, 8080, "bridge-page");
  CmdResult curl = node.exec(
      {"curl", "-sS", "--max-time", "5", "http://10.97.0.1:" + std::to_string(hostPort) + "/"});
  EXPECT_NE(curl.out.find("bridge-page"), std::string::npos) << curl.describe();
  CmdResult check = driver(node, "check", file, "/usr/lib/cni", pod.path(), "pe2e-bridge-c1", pm);
  EXPECT_TRUE(check.ok()) << check.describe();
  server.reset();
  CmdResult del = driver(node, "del", file, "/usr/lib/cni", pod.path(), "pe2e-bridge-c1", pm);
  EXPECT_TRUE(del.ok()) << del.describe();
  EXPECT_TRUE(cachedFiles().empty());
  CmdResult nat = node.exec({"iptables-save", "-t", "nat"});
  EXPECT_EQ(nat.out.find("CNI-DN-"), std::string::npos) << nat.out;
}

TEST_P(LibcniTest, PetrelConflistAddCheckDelWithHostPort) {
  ASSERT_TRUE(requireBasics());
  Netns node("pe2en");
  AgentProcess agent(node);
  ASSERT_TRUE(agent.start());
  Netns pod("pe2ep");

  nlohmann::json petrel = petrelCniConfig(agent);
  petrel.erase("cniVersion");
  petrel.erase("name");
  nlohmann::json conflist = {
      {"cniVersion", GetParam()},
      {"name", "petrel"},
      {"plugins", {petrel, {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}}}};
  const auto file = tmp_ / "petrel.conflist";
  std::ofstream(file) << conflist.dump();
  const std::string plugins = binDir().string() + ":/usr/lib/cni";
  const std::string id = "pe2e-libcni-" + std::to_string(getpid());
  const uint16_t hostPort = uniquePort();
  const std::string pm = portMappings(hostPort, 8080);

  CmdResult add = driver(node, "add", file, plugins, pod.path(), id, pm);
  ASSERT_TRUE(add.ok()) << add.describe() << "\nagent log:\n" << agent.log();
  auto result = nlohmann::json::parse(add.out, nullptr, false);
  ASSERT_FALSE(result.is_discarded()) << add.out;
  ASSERT_FALSE(result["ips"].empty()) << add.out;
  const std::string ip = stripPrefix(result["ips"][0]["address"].get<std::string>());
  EXPECT_EQ(ip.rfind("10.244.0.", 0), 0u) << ip;
  EXPECT_FALSE(cachedFiles().empty()) << "libcni cached nothing in the private cache dir";

  {
    // hostPort on the node's address reaches the server in the pod (portmap DNAT + Petrel).
    auto server = serve(pod, 8080, "petrel-libcni-page");
    CmdResult curl = node.exec(
        {"curl", "-sS", "--max-time", "5", "http://10.244.0.1:" + std::to_string(hostPort) + "/"});
    EXPECT_TRUE(curl.ok()) << curl.describe();
    EXPECT_NE(curl.out.find("petrel-libcni-page"), std::string::npos) << curl.out;
    // And the pod address directly.
    CmdResult direct = node.exec({"curl", "-sS", "--max-time", "5", "http://" + ip + ":8080/"});
    EXPECT_NE(direct.out.find("petrel-libcni-page"), std::string::npos) << direct.describe();
  }

  CmdResult check = driver(node, "check", file, plugins, pod.path(), id, pm);
  EXPECT_TRUE(check.ok()) << "CHECK: " << check.describe();

  std::string host;
  for (const auto& itf : result.value("interfaces", nlohmann::json::array())) {
    if (itf.value("sandbox", "").empty()) host = itf.value("name", "");
  }

  CmdResult del = driver(node, "del", file, plugins, pod.path(), id, pm);
  ASSERT_TRUE(del.ok()) << "DEL: " << del.describe();

  // Nothing is left: cache entry, endpoint, host veth, pod interface, portmap rules.
  EXPECT_TRUE(cachedFiles().empty()) << "libcni cache entry left after DEL";
  std::string error;
  nlohmann::json eps = agent.endpoints(&error);
  ASSERT_FALSE(eps.is_null()) << error;
  EXPECT_EQ(eps.dump().find("\"" + ip + "\""), std::string::npos) << eps.dump(2);
  for (const auto& link : node.links()) {
    EXPECT_NE(link.rfind("lxc", 0), 0u) << "host veth " << link << " left after DEL";
  }
  if (!host.empty()) {
    auto links = node.links();
    EXPECT_EQ(std::count(links.begin(), links.end(), host), 0);
  }
  EXPECT_FALSE(pod.exec({"ip", "link", "show", "dev", "eth0"}).ok()) << "eth0 left in the pod";
  CmdResult nat = node.exec({"iptables-save", "-t", "nat"});
  EXPECT_EQ(nat.out.find("CNI-DN-"), std::string::npos) << "portmap rules left: " << nat.out;
  EXPECT_EQ(nat.out.find(std::to_string(hostPort)), std::string::npos) << nat.out;

  // A second DEL (runtimes retry) is still success.
  CmdResult del2 = driver(node, "del", file, plugins, pod.path(), id, pm);
  EXPECT_TRUE(del2.ok()) << "second DEL: " << del2.describe();
}

// Every result version both libcni (Debian's, up to 1.0.0) and petrel-cni speak.
INSTANTIATE_TEST_SUITE_P(CniVersions, LibcniTest, ::testing::Values("0.4.0", "1.0.0"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = "v" + param.param;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

}  // namespace
}  // namespace petrel::e2e
