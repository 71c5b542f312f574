// Unit tests: network config parsing, CNI_ARGS, the CNI_* environment, version negotiation and
// host veth naming.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "cni-plugin/config.h"

namespace petrel::cni {
namespace {

int configCode(const std::string& text) {
  auto r = parseNetConf(text);
  return r.ok() ? 0 : r.error().code;
}

TEST(CniConfig, ParsesFullConfig) {
  auto r = parseNetConf(
      R"({"cniVersion":"1.1.0","name":"petrel","type":"petrel-cni",
          "agentSocket":"/run/p.sock","mtu":1450,"logFile":"/tmp/l.log"})");
  ASSERT_TRUE(r.ok()) << r.error().msg;
  EXPECT_EQ(r->cni_version, "1.1.0");
  EXPECT_EQ(r->name, "petrel");
  EXPECT_EQ(r->type, "petrel-cni");
  EXPECT_EQ(r->agent_socket, "/run/p.sock");
  EXPECT_EQ(r->mtu, 1450u);
  EXPECT_EQ(r->log_file, "/tmp/l.log");
}

TEST(CniConfig, DefaultsAndUnknownFieldsIgnored) {
  auto r = parseNetConf(
      R"({"cniVersion":"0.4.0","name":"n","type":"petrel-cni","runtimeConfig":{"x":1},
          "capabilities":{"portMappings":true},"somethingNew":[1,2]})");
  ASSERT_TRUE(r.ok()) << r.error().msg;
  EXPECT_EQ(r->agent_socket, kDefaultAgentSocket);
  EXPECT_FALSE(r->mtu.has_value());
  EXPECT_TRUE(r->log_file.empty());
  EXPECT_FALSE(r->prev_result.has_value());
}

TEST(CniConfig, PrevResultAndValidAttachments) {
  auto r = parseNetConf(
      R"({"cniVersion":"1.1.0","name":"n","type":"t","prevResult":{"ips":[]},
          "cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"},
                                       {"containerID":"b","ifname":"net1"}]})");
  ASSERT_TRUE(r.ok()) << r.error().msg;
  ASSERT_TRUE(r->prev_result.has_value());
  ASSERT_EQ(r->valid_attachments.size(), 2u);
  EXPECT_EQ(r->valid_attachments[1], (Attachment{"b", "net1"}));
}

TEST(CniConfig, BadConfigsAreCode7) {
  EXPECT_EQ(configCode(""), 7);
  EXPECT_EQ(configCode("{not json"), 7);
  EXPECT_EQ(configCode("[1,2]"), 7);
  EXPECT_EQ(configCode(R"({"name":"n","type":"t"})"), 7);                      // no version
  EXPECT_EQ(configCode(R"({"cniVersion":1,"name":"n","type":"t"})"), 7);       // wrong type
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","type":"t"})"), 7);            // no name
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"","type":"t"})"), 7);  // empty name
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n"})"), 7);            // no type
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n","type":true})"), 7);
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n","type":"t","mtu":"1500"})"), 7);
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n","type":"t","mtu":1500.5})"), 7);
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n","type":"t","mtu":575})"), 7);
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n","type":"t","mtu":65536})"), 7);
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n","type":"t","mtu":-1})"), 7);
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n","type":"t","agentSocket":5})"), 7);
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n","type":"t","logFile":{}})"), 7);
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n","type":"t","prevResult":"x"})"), 7);
  EXPECT_EQ(
      configCode(R"({"cniVersion":"1.1.0","name":"n","type":"t","cni.dev/valid-attachments":{}})"),
      7);
  EXPECT_EQ(configCode(
                R"({"cniVersion":"1.1.0","name":"n","type":"t",
                    "cni.dev/valid-attachments":[{"containerID":"a"}]})"),
            7);
}

TEST(CniConfig, MtuBoundsAccepted) {
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n","type":"t","mtu":576})"), 0);
  EXPECT_EQ(configCode(R"({"cniVersion":"1.0.0","name":"n","type":"t","mtu":65535})"), 0);
}

TEST(CniConfig, UnsupportedVersionIsCode1) {
  EXPECT_EQ(configCode(R"({"cniVersion":"0.2.0","name":"n","type":"t"})"), 1);
  EXPECT_EQ(configCode(R"({"cniVersion":"2.0.0","name":"n","type":"t"})"), 1);
  EXPECT_EQ(configCode(R"({"cniVersion":"banana","name":"n","type":"t"})"), 1);
}

TEST(CniVersion, Negotiation) {
  for (const char* v : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    EXPECT_TRUE(isSupportedVersion(v)) << v;
  }
  EXPECT_FALSE(isSupportedVersion("1.2.0"));
  EXPECT_FALSE(isSupportedVersion("0.1.0"));
  EXPECT_TRUE(versionAtLeast("1.1.0", "1.0.0"));
  EXPECT_TRUE(versionAtLeast("0.4.0", "0.4.0"));
  EXPECT_FALSE(versionAtLeast("0.3.1", "0.4.0"));
  EXPECT_TRUE(versionAtLeast("0.10.0", "0.4.0"));  // numeric, not lexical
  EXPECT_FALSE(versionAtLeast("x", "0.4.0"));
  EXPECT_FALSE(parseVersion("1.0").has_value());
  EXPECT_FALSE(parseVersion("1.0.0.0").has_value());
  EXPECT_FALSE(parseVersion("1..0").has_value());
  EXPECT_EQ(parseVersion("1.2.3"), (std::array<int, 3>{1, 2, 3}));
}

TEST(CniArgs, ParsesKubernetesKeys) {
  auto r = parseCniArgs(
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;"
      "K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=1234-5");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->pod_namespace, "default");
  EXPECT_EQ(r->pod_name, "web-0");
  EXPECT_EQ(r->pod_uid, "1234-5");
  EXPECT_EQ(r->other.at("IgnoreUnknown"), "1");
  EXPECT_EQ(r->other.at("K8S_POD_INFRA_CONTAINER_ID"), "abc");
}

TEST(CniArgs, EmptyAndEdgeCases) {
  EXPECT_TRUE(parseCniArgs("").ok());
  EXPECT_TRUE(parseCniArgs(";;").ok());
  auto r = parseCniArgs("A=;B=x=y");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->other.at("A"), "");
  EXPECT_EQ(r->other.at("B"), "x=y");
  EXPECT_EQ(parseCniArgs("novalue").error().code, 4);
  EXPECT_EQ(parseCniArgs("=v").error().code, 4);
}

class CniEnvTest : public ::testing::Test {
 protected:
  int code() {
    auto r = readCniEnv([this](const char* k) -> const char* {
      auto it = vars_.find(k);
      return it == vars_.end() ? nullptr : it->second.c_str();
    });
    return r.ok() ? 0 : r.error().code;
  }
  std::map<std::string, std::string> vars_{{"CNI_COMMAND", "ADD"},
                                           {"CNI_CONTAINERID", "c1"},
                                           {"CNI_NETNS", "/var/run/netns/x"},
                                           {"CNI_IFNAME", "eth0"}};
};

TEST_F(CniEnvTest, CompleteEnvIsAccepted) {
  EXPECT_EQ(code(), 0);
}

TEST_F(CniEnvTest, MissingVariablesAreCode4) {
  for (const char* key : {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_IFNAME", "CNI_NETNS"}) {
    auto saved = vars_;
    vars_.erase(key);
    EXPECT_EQ(code(), 4) << key;
    vars_ = saved;
  }
}

TEST_F(CniEnvTest, DelAllowsMissingNetns) {
  vars_["CNI_COMMAND"] = "DEL";
  vars_.erase("CNI_NETNS");
  EXPECT_EQ(code(), 0);
}

TEST_F(CniEnvTest, CheckNeedsNetns) {
  vars_["CNI_COMMAND"] = "CHECK";
  vars_.erase("CNI_NETNS");
  EXPECT_EQ(code(), 4);
}

TEST_F(CniEnvTest, StatusAndGcNeedOnlyTheCommand) {
  vars_ = {{"CNI_COMMAND", "STATUS"}};
  EXPECT_EQ(code(), 0);
  vars_ = {{"CNI_COMMAND", "GC"}};
  EXPECT_EQ(code(), 0);
}

TEST_F(CniEnvTest, UnknownCommandAndBadIfnameAreCode4) {
  vars_["CNI_COMMAND"] = "FROB";
  EXPECT_EQ(code(), 4);
  vars_["CNI_COMMAND"] = "ADD";
  vars_["CNI_IFNAME"] = "a-name-longer-than-15";
  EXPECT_EQ(code(), 4);
  vars_["CNI_IFNAME"] = "a/b";
  EXPECT_EQ(code(), 4);
  vars_["CNI_IFNAME"] = "eth0";
  vars_["CNI_ARGS"] = "garbage";
  EXPECT_EQ(code(), 4);
}

TEST(CniHostVethName, DeterministicAndWellFormed) {
  std::string a = hostVethName("0123456789abcdef", "eth0");
  EXPECT_EQ(a, hostVethName("0123456789abcdef", "eth0"));
  ASSERT_EQ(a.size(), 15u);
  EXPECT_EQ(a.substr(0, 3), "lxc");
  for (char c : a.substr(3)) EXPECT_TRUE(std::isxdigit(c) && !std::isupper(c)) << a;
  EXPECT_NE(a, hostVethName("0123456789abcdef", "eth1"));
  EXPECT_NE(a, hostVethName("0123456789abcdeg", "eth0"));
  // The separator keeps "ab"+"c" and "a"+"bc" apart.
  EXPECT_NE(hostVethName("ab", "c"), hostVethName("a", "bc"));
  std::string t = tempPeerName("0123456789abcdef", "eth0");
  EXPECT_EQ(t.size(), 15u);
  EXPECT_EQ(t.substr(3), a.substr(3));
}

TEST(CniHostVethName, NoCollisionsOverManyContainers) {
  std::set<std::string> names;
  for (int i = 0; i < 20000; ++i)
    names.insert(hostVethName("container-" + std::to_string(i), "eth0"));
  EXPECT_EQ(names.size(), 20000u);
}

}  // namespace
}  // namespace petrel::cni
