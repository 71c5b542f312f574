// loadCniNetwork and CniRunner against fake CNI plugins: small shell scripts in a temp CNI_PATH
// that record their environment and stdin, answer a result or a CNI error.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tools/sandbox/kubelet/cni_runner.h"

namespace petrel::sandbox {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeFile(const fs::path& p, const std::string& text, fs::perms mode = fs::perms(0644)) {
  std::ofstream(p) << text;
  fs::permissions(p, mode);
}

class KubeletCniRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "petrel-cni-runner-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    for (const char* d : {"conf", "bin", "bin2", "log"}) fs::create_directory(root_ / d);
    attachment_.container_id = "ctr-123";
    attachment_.netns_path = "/run/netns/petrel-test";
    attachment_.ifname = "eth0";
    attachment_.pod_namespace = "shop";
    attachment_.pod_name = "web";
    attachment_.pod_uid = "uid-9";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  fs::path conf() const { return root_ / "conf"; }
  fs::path bin() const { return root_ / "bin"; }
  fs::path log() const { return root_ / "log"; }
  CniRunner runner() const { return CniRunner(conf().string(), bin().string()); }

  // A plugin that records "<type> <command>" to log/calls and its env and stdin to
  // log/<type>.<command>.{env,stdin}; on ADD it prints a result with `ip`, or `fail_output` with
  // exit 1 when that is set.
  void plugin(const std::string& type, const std::string& ip, const std::string& fail_output = "",
              const fs::path& dir = {}) {
    std::string result = json({{"cniVersion", "1.0.0"},
                               {"interfaces", json::array({{{"name", type}}})},
                               {"ips", json::array({{{"address", ip + "/24"}}})}})
                             .dump();
    std::string add =
        fail_output.empty() ? "echo '" + result + "'" : "echo '" + fail_output + "'; exit 1";
    writeFile((dir.empty() ? bin() : dir) / type,
              "#!/bin/sh\n"
              "d='" +
                  log().string() +
                  "'\n"
                  "cat > \"$d/" +
                  type +
                  ".$CNI_COMMAND.stdin\"\n"
                  "env > \"$d/" +
                  type +
                  ".$CNI_COMMAND.env\"\n"
                  "echo \"" +
                  type +
                  " $CNI_COMMAND\" >> \"$d/calls\"\n"
                  "if [ \"$CNI_COMMAND\" = ADD ]; then " +
                  add + "; fi\n",
              fs::perms(0755));
  }

  void conflist(const std::string& file, const json& plugins) {
    writeFile(conf() / file,
              json({{"cniVersion", "1.0.0"}, {"name", "podnet"}, {"plugins", plugins}}).dump());
  }

  json stdinOf(const std::string& type, const std::string& command) const {
    return json::parse(slurp(log() / (type + "." + command + ".stdin")), nullptr, false);
  }
  std::string envOf(const std::string& type, const std::string& command) const {
    return slurp(log() / (type + "." + command + ".env"));
  }
  std::string calls() const { return slurp(log() / "calls"); }

  fs::path root_;
  CniAttachment attachment_;
};

// ---- loadCniNetwork --------------------------------------------------------------------------

TEST_F(KubeletCniRunner, LoadPicksTheLexicallyFirstConfig) {
  writeFile(conf() / "00-notes.txt", "not a config");
  writeFile(conf() / "20-second.conflist",
            R"({"cniVersion":"1.0.0","name":"second","plugins":[{"type":"b"}]})");
  writeFile(conf() / "10-first.conflist",
            R"({"cniVersion":"0.4.0","name":"first","plugins":[{"type":"a"},{"type":"c"}]})");
  writeFile(conf() / "15-single.conf", R"({"cniVersion":"1.0.0","name":"single","type":"s"})");
  auto net = loadCniNetwork(conf().string());
  ASSERT_TRUE(net.isOk()) << net.status().toString();
  EXPECT_EQ(net->file, (conf() / "10-first.conflist").string());
  EXPECT_EQ(net->name, "first");
  EXPECT_EQ(net->cni_version, "0.4.0");
  ASSERT_EQ(net->plugins.size(), 2U);
  EXPECT_EQ(net->plugins[0]["type"], "a");
  EXPECT_EQ(net->plugins[1]["type"], "c");

  // A .conf that sorts first wins over a .conflist.
  writeFile(conf() / "05-single.conf", R"({"cniVersion":"1.0.0","name":"single","type":"s"})");
  auto single = loadCniNetwork(conf().string());
  ASSERT_TRUE(single.isOk()) << single.status().toString();
  EXPECT_EQ(single->name, "single");
}

TEST_F(KubeletCniRunner, LoadConfIsASinglePluginNetwork) {
  writeFile(conf() / "10-bridge.conf",
            R"({"cniVersion":"1.0.0","name":"br","type":"bridge","bridge":"cni0"})");
  auto net = loadCniNetwork(conf().string());
  ASSERT_TRUE(net.isOk()) << net.status().toString();
  EXPECT_EQ(net->name, "br");
  EXPECT_EQ(net->cni_version, "1.0.0");
  ASSERT_EQ(net->plugins.size(), 1U);
  EXPECT_EQ(net->plugins[0]["type"], "bridge");
  EXPECT_EQ(net->plugins[0]["bridge"], "cni0");
}

TEST_F(KubeletCniRunner, LoadErrors) {
  auto empty = loadCniNetwork(conf().string());
  ASSERT_FALSE(empty.isOk());
  EXPECT_EQ(empty.status().code(), Code::kNotFound);
  EXPECT_NE(empty.status().message().find(conf().string()), std::string::npos);

  auto missing_dir = loadCniNetwork((root_ / "nope").string());
  ASSERT_FALSE(missing_dir.isOk());
  EXPECT_EQ(missing_dir.status().code(), Code::kNotFound);

  auto expectInvalid = [&](const std::string& text, const std::string& what) {
    writeFile(conf() / "10-net.conflist", text);
    Result<CniNetwork> r(Status::ok());
    EXPECT_NO_THROW(r = loadCniNetwork(conf().string())) << text;
    ASSERT_FALSE(r.isOk()) << text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << text;
    EXPECT_NE(r.status().message().find("10-net.conflist"), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().message();
  };
  expectInvalid(R"({"cniVersion":"1.0.0","name":)", "JSON");
  expectInvalid(R"({"cniVersion":"1.0.0","plugins":[{"type":"a"}]})", "\"name\"");
  expectInvalid(R"({"name":"n","plugins":[{"type":"a"}]})", "\"cniVersion\"");
  // A number where a string belongs is an error, not an exception.
  expectInvalid(R"({"cniVersion":1.0,"name":"n","plugins":[{"type":"a"}]})", "\"cniVersion\"");
  expectInvalid(R"({"cniVersion":"1.0.0","name":"n","plugins":[]})", "\"plugins\"");
  expectInvalid(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a"},{"mtu":1}]})",
                "\"type\"");
  expectInvalid(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":""}]})", "\"type\"");
  // A type is a file name in CNI_PATH, never a path out of it (libcni refuses these too).
  expectInvalid(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"../../bin/sh"}]})",
                "\"type\"");
  expectInvalid(
      R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a","capabilities":["portMappings"]}]})",
      "\"capabilities\"");
}

// ---- ADD / DEL -------------------------------------------------------------------------------

TEST_F(KubeletCniRunner, AddRunsTheChainInOrderPassingPrevResult) {
  plugin("first", "10.1.0.5");
  plugin("second", "10.2.0.6");
  conflist("10-podnet.conflist", json::parse(R"([{"type":"first","mtu":1400},{"type":"second"}])"));
  auto result = runner().add(attachment_);
  ASSERT_TRUE(result.isOk()) << result.status().toString();
  EXPECT_EQ(calls(), "first ADD\nsecond ADD\n");
  EXPECT_EQ(cniResultIps(*result), (std::vector<std::string>{"10.2.0.6"}))
      << "the last plugin's result is returned";

  json first_in = stdinOf("first", "ADD");
  ASSERT_TRUE(first_in.is_object());
  EXPECT_EQ(first_in["name"], "podnet");
  EXPECT_EQ(first_in["cniVersion"], "1.0.0");
  EXPECT_EQ(first_in["type"], "first");
  EXPECT_EQ(first_in["mtu"], 1400);
  EXPECT_FALSE(first_in.contains("prevResult"));
  EXPECT_FALSE(first_in.contains("runtimeConfig"));

  json second_in = stdinOf("second", "ADD");
  ASSERT_TRUE(second_in.is_object());
  EXPECT_EQ(second_in["name"], "podnet");
  EXPECT_EQ(second_in["cniVersion"], "1.0.0");
  ASSERT_TRUE(second_in.contains("prevResult"));
  EXPECT_EQ(cniResultIps(second_in["prevResult"]), (std::vector<std::string>{"10.1.0.5"}));
  EXPECT_EQ(second_in["prevResult"]["interfaces"][0]["name"], "first");

  for (const char* type : {"first", "second"}) {
    std::string env = envOf(type, "ADD");
    EXPECT_NE(env.find("CNI_COMMAND=ADD\n"), std::string::npos) << env;
    EXPECT_NE(env.find("CNI_CONTAINERID=ctr-123\n"), std::string::npos) << env;
    EXPECT_NE(env.find("CNI_NETNS=/run/netns/petrel-test\n"), std::string::npos) << env;
    EXPECT_NE(env.find("CNI_IFNAME=eth0\n"), std::string::npos) << env;
    EXPECT_NE(env.find("CNI_PATH=" + bin().string() + "\n"), std::string::npos) << env;
    EXPECT_NE(env.find("CNI_ARGS="), std::string::npos) << env;
    EXPECT_NE(env.find("K8S_POD_NAMESPACE=shop;"), std::string::npos) << env;
    EXPECT_NE(env.find("K8S_POD_NAME=web;"), std::string::npos) << env;
    EXPECT_NE(env.find("K8S_POD_UID=uid-9"), std::string::npos) << env;
  }
}

TEST_F(KubeletCniRunner, PortMappingsGoOnlyToPluginsThatDeclareTheCapability) {
  plugin("main", "10.1.0.5");
  plugin("portmap", "10.1.0.5");
  plugin("other", "10.1.0.5");
  conflist("10-podnet.conflist", json::parse(R"([
      {"type":"main","capabilities":{"portMappings":false}},
      {"type":"portmap","capabilities":{"portMappings":true}},
      {"type":"other","capabilities":{"bandwidth":true}}])"));
  attachment_.port_mappings = {{8080, 80, "tcp"}, {5353, 53, "udp"}};
  auto result = runner().add(attachment_);
  ASSERT_TRUE(result.isOk()) << result.status().toString();
  EXPECT_FALSE(stdinOf("main", "ADD").contains("runtimeConfig"));
  EXPECT_FALSE(stdinOf("other", "ADD").contains("runtimeConfig"));
  json rc = stdinOf("portmap", "ADD")["runtimeConfig"];
  EXPECT_EQ(rc, json::parse(R"({"portMappings":[
      {"hostPort":8080,"containerPort":80,"protocol":"tcp"},
      {"hostPort":5353,"containerPort":53,"protocol":"udp"}]})"));

  // Without mappings the capable plugin gets no runtimeConfig either.
  attachment_.port_mappings.clear();
  ASSERT_TRUE(runner().add(attachment_).isOk());
  EXPECT_FALSE(stdinOf("portmap", "ADD").contains("runtimeConfig"));
}

TEST_F(KubeletCniRunner, FailedPluginUndoesTheOnesBeforeIt) {
  plugin("first", "10.1.0.5");
  plugin("second", "10.2.0.6", R"({"cniVersion":"1.0.0","code":7,"msg":"bad","details":"x"})");
  plugin("third", "10.3.0.7");
  conflist("10-podnet.conflist",
           json::parse(R"([{"type":"first"},{"type":"second"},{"type":"third"}])"));
  auto result = runner().add(attachment_);
  ASSERT_FALSE(result.isOk());
  const std::string& msg = result.status().message();
  EXPECT_NE(msg.find("second"), std::string::npos) << msg;
  EXPECT_NE(msg.find("code 7"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad"), std::string::npos) << msg;
  EXPECT_NE(msg.find(": bad: x"), std::string::npos) << msg;
  EXPECT_EQ(calls(), "first ADD\nsecond ADD\nfirst DEL\n") << "third never ran; first was undone";
  std::string env = envOf("first", "DEL");
  EXPECT_NE(env.find("CNI_COMMAND=DEL\n"), std::string::npos) << env;
  EXPECT_NE(env.find("K8S_POD_NAME=web;"), std::string::npos) << env;
  json del_in = stdinOf("first", "DEL");
  EXPECT_EQ(del_in["name"], "podnet");
  EXPECT_EQ(cniResultIps(del_in["prevResult"]), (std::vector<std::string>{"10.1.0.5"}));
}

TEST_F(KubeletCniRunner, FailureWithoutCniJsonReportsStderr) {
  writeFile(bin() / "crashy", "#!/bin/sh\ncat >/dev/null\necho 'no bridge here' >&2\nexit 3\n",
            fs::perms(0755));
  conflist("10-podnet.conflist", json::parse(R"([{"type":"crashy"}])"));
  auto result = runner().add(attachment_);
  ASSERT_FALSE(result.isOk());
  const std::string& msg = result.status().message();
  EXPECT_NE(msg.find("crashy"), std::string::npos) << msg;
  EXPECT_NE(msg.find("exit 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no bridge here"), std::string::npos) << msg;
}

TEST_F(KubeletCniRunner, ErrorJsonOfTheWrongShapeIsStillAnError) {
  // A misbehaving plugin: "msg" is not a string and "code" is not a number.
  plugin("odd", "10.1.0.5", R"({"code":"seven","msg":{"text":"bad"}})");
  conflist("10-podnet.conflist", json::parse(R"([{"type":"odd"}])"));
  Result<json> result(json{});
  EXPECT_NO_THROW(result = runner().add(attachment_));
  ASSERT_FALSE(result.isOk());
  EXPECT_NE(result.status().message().find("odd"), std::string::npos) << result.status().message();
}

TEST_F(KubeletCniRunner, DelRunsInReverseWithPrevResult) {
  plugin("first", "10.1.0.5");
  plugin("second", "10.2.0.6");
  conflist("10-podnet.conflist", json::parse(R"([{"type":"first"},{"type":"second"}])"));
  json prev = json::parse(R"({"cniVersion":"1.0.0","ips":[{"address":"10.9.9.9/24"}]})");
  Status s = runner().del(attachment_, prev);
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(calls(), "second DEL\nfirst DEL\n");
  for (const char* type : {"first", "second"}) {
    EXPECT_EQ(stdinOf(type, "DEL")["prevResult"], prev) << type;
    EXPECT_NE(envOf(type, "DEL").find("CNI_COMMAND=DEL\n"), std::string::npos);
  }
  // Without a previous result there is no prevResult.
  fs::remove(log() / "calls");
  s = runner().del(attachment_, json());
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(calls(), "second DEL\nfirst DEL\n");
  EXPECT_FALSE(stdinOf("first", "DEL").contains("prevResult"));
}

TEST_F(KubeletCniRunner, DelGoesOnPastAFailureAndReportsIt) {
  plugin("first", "10.1.0.5");
  writeFile(bin() / "second", "#!/bin/sh\ncat >/dev/null\necho 'cannot del' >&2\nexit 1\n",
            fs::perms(0755));
  conflist("10-podnet.conflist", json::parse(R"([{"type":"first"},{"type":"second"}])"));
  Status s = runner().del(attachment_, json());
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("second"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("cannot del"), std::string::npos) << s.message();
  EXPECT_EQ(calls(), "first DEL\n") << "the first plugin is still asked to DEL";
}

TEST_F(KubeletCniRunner, MissingPluginIsNotFound) {
  plugin("first", "10.1.0.5");
  conflist("10-podnet.conflist", json::parse(R"([{"type":"first"},{"type":"ghost"}])"));
  auto result = runner().add(attachment_);
  ASSERT_FALSE(result.isOk());
  EXPECT_EQ(result.status().code(), Code::kNotFound);
  EXPECT_NE(result.status().message().find("\"ghost\""), std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find(bin().string()), std::string::npos)
      << result.status().message();
  EXPECT_EQ(calls(), "first ADD\nfirst DEL\n");
}

TEST_F(KubeletCniRunner, NonExecutableFileIsNotAPlugin) {
  writeFile(bin() / "noexec", "#!/bin/sh\necho '{}'\n", fs::perms(0644));
  plugin("noexec", "10.1.0.5", "", root_ / "bin2");
  conflist("10-podnet.conflist", json::parse(R"([{"type":"noexec"}])"));
  CniRunner r(conf().string(), bin().string() + ":" + (root_ / "bin2").string());
  auto result = r.add(attachment_);
  ASSERT_TRUE(result.isOk()) << result.status().toString();
  EXPECT_EQ(calls(), "noexec ADD\n") << "the executable one in the second directory ran";
}

TEST_F(KubeletCniRunner, DirectoryIsNotAPlugin) {
  fs::create_directory(bin() / "dirplugin");
  plugin("dirplugin", "10.1.0.5", "", root_ / "bin2");
  conflist("10-podnet.conflist", json::parse(R"([{"type":"dirplugin"}])"));
  CniRunner r(conf().string(), bin().string() + ":" + (root_ / "bin2").string());
  auto result = r.add(attachment_);
  ASSERT_TRUE(result.isOk()) << result.status().toString();
  EXPECT_EQ(calls(), "dirplugin ADD\n");
}

TEST_F(KubeletCniRunner, CniPathWithTwoDirectories) {
  plugin("first", "10.1.0.5");
  plugin("second", "10.2.0.6", "", root_ / "bin2");
  conflist("10-podnet.conflist", json::parse(R"([{"type":"first"},{"type":"second"}])"));
  const std::string path = bin().string() + ":" + (root_ / "bin2").string();
  CniRunner r(conf().string(), path);
  auto result = r.add(attachment_);
  ASSERT_TRUE(result.isOk()) << result.status().toString();
  EXPECT_EQ(calls(), "first ADD\nsecond ADD\n");
  EXPECT_NE(envOf("second", "ADD").find("CNI_PATH=" + path + "\n"), std::string::npos);
}

TEST(KubeletCniResultIps, IgnoresIpv6AndStripsThePrefix) {
  json result = json::parse(R"({"ips":[
      {"address":"fd00::5/64"},
      {"address":"10.244.1.5/24","gateway":"10.244.1.1"},
      {"gateway":"10.0.0.1"},
      {"address":7},
      {"address":"10.244.2.9"}]})");
  std::vector<std::string> ips;
  EXPECT_NO_THROW(ips = cniResultIps(result));
  EXPECT_EQ(ips, (std::vector<std::string>{"10.244.1.5", "10.244.2.9"}));
  EXPECT_TRUE(cniResultIps(json()).empty());
  EXPECT_TRUE(cniResultIps(json::parse(R"({"ips":{}})")).empty());
  EXPECT_TRUE(cniResultIps(json::parse(R"({"ips":["10.0.0.1/24"]})")).empty());
}

}  // namespace
}  // namespace petrel::sandbox
