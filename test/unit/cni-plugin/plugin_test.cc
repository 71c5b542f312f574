// Unit tests: petrel-cni command logic against a real gRPC FakeAgent on a temp unix socket and an
// in-memory PodNetwork, including ADD rollback on every failure after AllocateIp.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "cni-plugin/config.h"
#include "cni-plugin/plugin.h"
#include "cni-plugin/testing/fake_agent.h"

namespace petrel::cni {
namespace {

using nlohmann::json;
using testing::FakeAgent;

// PodNetwork in memory: host veths by name, pod interfaces with their addresses.
class FakePodNetwork : public PodNetwork {
 public:
  Status openNetns(const std::string& path) override {
    if (!open_status.isOk()) return open_status;
    netns_path = path;
    return Status::ok();
  }
  bool netnsOpen() const override { return !netns_path.empty(); }
  Result<bool> podInterfaceExists(const std::string& ifname) override {
    return pod_ifaces.count(ifname) > 0;
  }
  Result<PodNetworkInfo> setUp(const PodNetworkRequest& req) override {
    last_request = req;
    host_veths.insert(req.host_ifname);  // created before a later step fails
    if (!setup_status.isOk()) return setup_status;
    pod_ifaces[req.pod_ifname] = {{req.ip, 32}};
    peer_of[req.host_ifname] = req.pod_ifname;
    return PodNetworkInfo{42, {2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}};
  }
  Status netnsStillAlive() override { return alive_status; }
  Status deleteHostVeth(const std::string& name) override {
    host_veths.erase(name);
    if (auto it = peer_of.find(name); it != peer_of.end()) {
      pod_ifaces.erase(it->second);  // the peer dies with it
      peer_of.erase(it);
    }
    return Status::ok();
  }
  Status deletePodInterface(const std::string& ifname) override {
    pod_ifaces.erase(ifname);
    return Status::ok();
  }
  Result<PodLiveState> inspect(const std::string& host_ifname,
                               const std::string& pod_ifname) override {
    PodLiveState s;
    s.host_exists = host_veths.count(host_ifname) > 0;
    auto it = pod_ifaces.find(pod_ifname);
    s.pod_exists = it != pod_ifaces.end();
    if (s.pod_exists) s.pod_addrs = it->second;
    return s;
  }

  Status open_status;
  Status setup_status;
  Status alive_status;
  std::string netns_path;
  std::set<std::string> host_veths;
  std::map<std::string, std::vector<AddrInfo>> pod_ifaces;
  std::map<std::string, std::string> peer_of;
  PodNetworkRequest last_request;
};

class CniPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    socket_ =
        "/tmp/pcni-unit-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".sock";
    ASSERT_TRUE(agent_.start(socket_).isOk());
    env_ = {{"CNI_COMMAND", "ADD"},
            {"CNI_CONTAINERID", "ctr1"},
            {"CNI_NETNS", "/var/run/netns/pod1"},
            {"CNI_IFNAME", "eth0"},
            {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;K8S_POD_UID=u1"}};
  }
  void TearDown() override {
    agent_.stop();
    ::unlink(socket_.c_str());
  }

  json conf(const std::string& version = "1.1.0") const {
    return {{"cniVersion", version},
            {"name", "petrel"},
            {"type", "petrel-cni"},
            {"agentSocket", socket_}};
  }
  Outcome run(const std::string& command, const json& config) {
    env_["CNI_COMMAND"] = command;
    Plugin plugin(net_, std::chrono::milliseconds(1000));
    return plugin.run(
        [this](const char* k) -> const char* {
          auto it = env_.find(k);
          return it == env_.end() ? nullptr : it->second.c_str();
        },
        config.dump());
  }
  static json parse(const Outcome& o) { return json::parse(o.output); }
  std::string hostName() const { return hostVethName("ctr1", "eth0"); }
  // After a failed ADD nothing may be left: no veth, no endpoint, no allocation.
  void expectNothingLeft() {
    EXPECT_TRUE(net_.host_veths.empty());
    EXPECT_TRUE(net_.pod_ifaces.empty());
    EXPECT_TRUE(agent_.endpoints().empty());
    EXPECT_TRUE(agent_.allocations().empty());
  }

  FakeAgent agent_;
  FakePodNetwork net_;
  std::string socket_;
  std::map<std::string, std::string> env_;
};

TEST_F(CniPluginTest, AddCreatesEndpointAndPrintsResult) {
  Outcome o = run("ADD", conf());
  ASSERT_EQ(o.exit_code, 0) << o.output;
  json r = parse(o);
  EXPECT_EQ(r["cniVersion"], "1.1.0");
  EXPECT_EQ(r["interfaces"][0]["name"], hostName());
  EXPECT_EQ(r["interfaces"][1]["sandbox"], "/var/run/netns/pod1");
  EXPECT_EQ(r["ips"][0]["address"], "10.244.0.2/32");
  EXPECT_EQ(r["ips"][0]["gateway"], "10.244.0.1");
  auto eps = agent_.endpoints();
  ASSERT_EQ(eps.size(), 1u);
  const auto& ep = eps.begin()->second;
  EXPECT_EQ(ep.host_ifname(), hostName());
  EXPECT_EQ(ep.host_ifindex(), 42u);
  EXPECT_EQ(ep.host_mac(), "02:00:00:00:00:01");
  EXPECT_EQ(ep.pod_mac(), "02:00:00:00:00:02");
  EXPECT_EQ(ep.ip(), "10.244.0.2");
  EXPECT_EQ(ep.netns(), "/var/run/netns/pod1");
  EXPECT_EQ(ep.pod().name(), "web");
  EXPECT_EQ(ep.pod().namespace_(), "ns");
  EXPECT_EQ(ep.pod().uid(), "u1");
  EXPECT_EQ(net_.last_request.mtu, 1500u);  // from the agent
  EXPECT_EQ(net_.last_request.temp_peer_name, tempPeerName("ctr1", "eth0"));
}

TEST_F(CniPluginTest, AddResultFollowsRequestedVersion) {
  Outcome o = run("ADD", conf("0.4.0"));
  ASSERT_EQ(o.exit_code, 0) << o.output;
  EXPECT_EQ(parse(o)["ips"][0]["version"], "4");
}

TEST_F(CniPluginTest, ConfigMtuOverridesAgent) {
  json c = conf();
  c["mtu"] = 1400;
  ASSERT_EQ(run("ADD", c).exit_code, 0);
  EXPECT_EQ(net_.last_request.mtu, 1400u);
}

TEST_F(CniPluginTest, AddAgentUnreachableIsCode11) {
  agent_.stop();
  Outcome o = run("ADD", conf());
  EXPECT_EQ(o.exit_code, 11);
  json e = parse(o);
  EXPECT_EQ(e["code"], 11);
  EXPECT_NE(e["msg"].get<std::string>().find("cannot reach petrel-agent at " + socket_),
            std::string::npos)
      << e.dump();
  EXPECT_NE(e["msg"].get<std::string>().find("is the agent running?"), std::string::npos);
  EXPECT_TRUE(net_.host_veths.empty());
}

TEST_F(CniPluginTest, ConnectionRefusedIsNamed) {
  agent_.stop();
  ::unlink(socket_.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);  // bound, never listening: connect is refused
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  Outcome o = run("ADD", conf());
  ::close(fd);
  EXPECT_EQ(o.exit_code, 11);
  EXPECT_NE(parse(o)["msg"].get<std::string>().find(": connection refused;"), std::string::npos)
      << o.output;
}

TEST_F(CniPluginTest, AddPoolExhaustedIsCode11) {
  agent_.setAllocateIpError({grpc::StatusCode::RESOURCE_EXHAUSTED, "pool full"});
  Outcome o = run("ADD", conf());
  EXPECT_EQ(o.exit_code, 11);
  expectNothingLeft();
}

TEST_F(CniPluginTest, AddNetnsMissingIsCode4) {
  net_.open_status = Status(Code::kNotFound, "gone");
  Outcome o = run("ADD", conf());
  EXPECT_EQ(o.exit_code, 4);
  EXPECT_EQ(agent_.callCount("AllocateIp"), 0);
  net_.open_status = Status(Code::kInvalidArgument, "not a netns");
  EXPECT_EQ(run("ADD", conf()).exit_code, 4);
}

TEST_F(CniPluginTest, AddExistingIfnameIsCode4AndUntouched) {
  net_.pod_ifaces["eth0"] = {};
  Outcome o = run("ADD", conf());
  EXPECT_EQ(o.exit_code, 4);
  EXPECT_NE(o.output.find("already exists"), std::string::npos);
  EXPECT_EQ(agent_.callCount("AllocateIp"), 0);
  EXPECT_EQ(net_.pod_ifaces.count("eth0"), 1u);
}

TEST_F(CniPluginTest, AddSetupFailureRollsBack) {
  net_.setup_status = Status(Code::kPermissionDenied, "create veth: EPERM");
  Outcome o = run("ADD", conf());
  EXPECT_NE(o.exit_code, 0);
  EXPECT_EQ(parse(o)["code"], kErrInternal);
  expectNothingLeft();
  EXPECT_EQ(agent_.releasedIps(), std::vector<std::string>{"10.244.0.2"});
}

TEST_F(CniPluginTest, AddRenameCollisionIsCode4AndRollsBack) {
  net_.setup_status = Status(Code::kAlreadyExists, "rename: exists");
  EXPECT_EQ(run("ADD", conf()).exit_code, 4);
  expectNothingLeft();
}

TEST_F(CniPluginTest, AddCreateEndpointFailureRollsBack) {
  agent_.setCreateEndpointHook(
      [](const auto&) { return grpc::Status(grpc::StatusCode::INTERNAL, "bpf attach failed"); });
  Outcome o = run("ADD", conf());
  EXPECT_NE(o.exit_code, 0);
  EXPECT_NE(o.output.find("bpf attach failed"), std::string::npos);
  expectNothingLeft();
  EXPECT_EQ(agent_.releasedIps().size(), 1u);
}

TEST_F(CniPluginTest, AddNetnsGoneMidwayIsCode3AndRollsBack) {
  net_.alive_status = Status(Code::kNotFound, "netns disappeared");
  Outcome o = run("ADD", conf());
  EXPECT_EQ(o.exit_code, 3);
  expectNothingLeft();
  EXPECT_EQ(agent_.releasedIps().size(), 1u);
}

TEST_F(CniPluginTest, HungAgentHitsDeadlineIsCode11AndRollsBack) {
  agent_.setCreateEndpointHook([](const auto&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // > the 1 s test deadline
    return grpc::Status::OK;
  });
  auto start = std::chrono::steady_clock::now();
  Outcome o = run("ADD", conf());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1400));
  EXPECT_EQ(o.exit_code, 11);
  EXPECT_NE(o.output.find("did not answer CreateEndpoint"), std::string::npos) << o.output;
  EXPECT_TRUE(net_.host_veths.empty());
  EXPECT_EQ(agent_.callCount("DeleteEndpoint"), 1);
}

TEST_F(CniPluginTest, LogsToConfiguredLogFile) {
  std::string log = socket_ + ".log";
  json c = conf();
  c["logFile"] = log;
  ASSERT_EQ(run("ADD", c).exit_code, 0);
  std::ifstream in(log);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  ::unlink(log.c_str());
  EXPECT_NE(text.find("ADD container=ctr1 ifname=eth0"), std::string::npos) << text;
  EXPECT_NE(text.find("10.244.0.2"), std::string::npos) << text;
}

TEST_F(CniPluginTest, AddIsRepeatableAfterDel) {
  ASSERT_EQ(run("ADD", conf()).exit_code, 0);
  ASSERT_EQ(run("DEL", conf()).exit_code, 0);
  ASSERT_EQ(run("ADD", conf()).exit_code, 0);
  EXPECT_EQ(agent_.endpoints().size(), 1u);
}

TEST_F(CniPluginTest, DelRemovesEverythingAndIsIdempotent) {
  ASSERT_EQ(run("ADD", conf()).exit_code, 0);
  Outcome o = run("DEL", conf());
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_TRUE(o.output.empty());
  expectNothingLeft();
  EXPECT_EQ(run("DEL", conf()).exit_code, 0);
}

TEST_F(CniPluginTest, DelWithAgentDownAndNoNetnsSucceeds) {
  ASSERT_EQ(run("ADD", conf()).exit_code, 0);
  agent_.stop();
  env_.erase("CNI_NETNS");
  Outcome o = run("DEL", conf());
  EXPECT_EQ(o.exit_code, 0) << o.output;
  EXPECT_TRUE(net_.host_veths.empty());
}

TEST_F(CniPluginTest, CheckPassesAfterAdd) {
  Outcome add = run("ADD", conf());
  ASSERT_EQ(add.exit_code, 0);
  json c = conf();
  c["prevResult"] = parse(add);
  Outcome o = run("CHECK", c);
  EXPECT_EQ(o.exit_code, 0) << o.output;
}

TEST_F(CniPluginTest, CheckDetectsMismatches) {
  Outcome add = run("ADD", conf());
  ASSERT_EQ(add.exit_code, 0);
  json c = conf();
  c["prevResult"] = parse(add);
  c["prevResult"]["ips"][0]["address"] = "10.244.0.99/32";
  EXPECT_NE(run("CHECK", c).exit_code, 0);
  c["prevResult"] = parse(add);
  net_.pod_ifaces["eth0"].clear();  // address gone from the pod
  EXPECT_NE(run("CHECK", c).exit_code, 0);
  net_.host_veths.clear();
  EXPECT_NE(run("CHECK", c).exit_code, 0);
}

TEST_F(CniPluginTest, CheckNeedsPrevResultAndVersion) {
  EXPECT_EQ(run("CHECK", conf()).exit_code, 7);
  json c = conf("0.3.1");
  c["prevResult"] = json::object();
  EXPECT_EQ(run("CHECK", c).exit_code, 1);
}

TEST_F(CniPluginTest, StatusReportsAgentReadiness) {
  EXPECT_EQ(run("STATUS", conf()).exit_code, 0);
  agent_.setReady(false);
  Outcome o = run("STATUS", conf());
  EXPECT_EQ(o.exit_code, 50);
  EXPECT_EQ(parse(o)["code"], 50);
  agent_.stop();
  EXPECT_EQ(run("STATUS", conf()).exit_code, 50);
}

TEST_F(CniPluginTest, GcReleasesStaleAttachmentsAndTheirVeths) {
  ASSERT_EQ(run("ADD", conf()).exit_code, 0);
  env_["CNI_CONTAINERID"] = "ctr2";
  env_["CNI_IFNAME"] = "net1";  // the fake has one netns for all pods
  ASSERT_EQ(run("ADD", conf()).exit_code, 0);
  ASSERT_EQ(net_.host_veths.size(), 2u);
  json c = conf();
  c["cni.dev/valid-attachments"] = json::array({{{"containerID", "ctr2"}, {"ifname", "net1"}}});
  env_.erase("CNI_CONTAINERID");
  Outcome o = run("GC", c);
  EXPECT_EQ(o.exit_code, 0) << o.output;
  EXPECT_EQ(net_.host_veths, (std::set<std::string>{hostVethName("ctr2", "net1")}));
  EXPECT_EQ(agent_.allocations().size(), 1u);
  agent_.stop();
  EXPECT_EQ(run("GC", c).exit_code, 11);
}

TEST_F(CniPluginTest, VersionCommand) {
  Outcome o = run("VERSION", json{{"cniVersion", "1.0.0"}});
  EXPECT_EQ(o.exit_code, 0);
  json v = parse(o);
  EXPECT_EQ(v["cniVersion"], "1.0.0");
  EXPECT_EQ(v["supportedVersions"].size(), 5u);
}

TEST_F(CniPluginTest, ErrorsUseSpecJsonAndExitCodes) {
  Outcome bad = run("ADD", json{{"cniVersion", "1.0.0"}, {"type", "petrel-cni"}});
  EXPECT_EQ(bad.exit_code, 7);
  json e = parse(bad);
  EXPECT_EQ(e["cniVersion"], "1.0.0");
  EXPECT_EQ(e["code"], 7);
  EXPECT_TRUE(e["msg"].is_string());
  EXPECT_EQ(run("ADD", json{{"cniVersion", "9.9.9"}, {"name", "n"}, {"type", "t"}}).exit_code, 1);
  env_.erase("CNI_CONTAINERID");
  EXPECT_EQ(run("ADD", conf()).exit_code, 4);
}

}  // namespace
}  // namespace petrel::cni
