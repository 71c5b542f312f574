// End-to-end (root): the real petrel-cni binary fed bad input — malformed config, missing or
// vanishing netns, unsupported cniVersion, a taken interface name, an unreachable agent, a failing
// agent — against petrel-test-fake-agent. After each failure nothing may be left behind: no new
// lxc* veth on the node, no endpoint or allocation in the agent, and the IP released.
// Self-contained: its helpers live in the anonymous namespace below.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kBinDir = PETREL_BIN_DIR;

struct Exec {
  int exit_code = -1;
  std::string out;
};

// Runs argv with exactly `env` (plus PATH), feeding `input` on stdin; returns exit code and
// stdout. stderr goes to the test's stderr. Killed after 20 s.
Exec execWith(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
              const std::string& input) {
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) return {};
  std::vector<std::string> env_strings{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  signal(SIGPIPE, SIG_IGN);
  (void)!::write(in_pipe[1], input.data(), input.size());
  ::close(in_pipe[1]);
  Exec result;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  char buf[4096];
  for (;;) {
    pollfd p{out_pipe[0], POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0 || ::poll(&p, 1, left) <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    ssize_t n = ::read(out_pipe[0], buf, sizeof(buf));
    if (n <= 0) break;
    result.out.append(buf, static_cast<size_t>(n));
  }
  ::close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

int shell(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

std::set<std::string> lxcLinks() {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator("/sys/class/net")) {
    std::string name = e.path().filename();
    if (name.rfind("lxc", 0) == 0) out.insert(name);
  }
  return out;
}

// petrel-test-fake-agent as a child process; SIGTERM and reap on destruction.
class FakeAgentProcess {
 public:
  FakeAgentProcess(const fs::path& socket, const fs::path& state,
                   const std::vector<std::string>& extra)
      : state_(state) {
    std::vector<std::string> argv{(kBinDir / "petrel-test-fake-agent").string(), "--socket",
                                  socket.string(), "--state-file", state.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::vector<char*> cargv;  // built before fork: the child may only exec
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
    // The state file appears once the server is listening.
    for (int i = 0; i < 100 && !fs::exists(state_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~FakeAgentProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return fs::exists(state_); }
  json state() const {
    std::ifstream in(state_);
    return json::parse(in, nullptr, false);
  }

 private:
  fs::path state_;
  pid_t pid_ = -1;
};

class CniBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "CniBadInput tests need root (they create network namespaces "
                                  "and veths); run petrel_e2e_tests as root";
    for (const char* bin : {"petrel-cni", "petrel-test-fake-agent"}) {
      ASSERT_TRUE(fs::exists(kBinDir / bin))
          << (kBinDir / bin) << " is missing; build it with `ninja -C build " << bin << "`";
    }
    ASSERT_EQ(shell("ip -V"), 0) << "the `ip` tool (iproute2) is needed to create netns";
    static int counter = 0;
    name_ = "pcni-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    netns_path_ = "/var/run/netns/" + name_;
    tmp_ = fs::temp_directory_path() / name_;
    fs::create_directories(tmp_);
    ASSERT_EQ(shell("ip netns add " + name_), 0) << "cannot create netns " << name_;
    lxc_before_ = lxcLinks();
  }

  void TearDown() override {
    agent_.reset();
    shell("ip netns del " + name_);
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }

  void startAgent(const std::vector<std::string>& extra = {}) {
    agent_ = std::make_unique<FakeAgentProcess>(socket(), tmp_ / "state.json", extra);
    ASSERT_TRUE(agent_->ready()) << "petrel-test-fake-agent did not start on " << socket();
  }
  fs::path socket() const { return tmp_ / "agent.sock"; }
  std::string config(const std::string& version = "1.1.0") const {
    return json{{"cniVersion", version},
                {"name", "petrel"},
                {"type", "petrel-cni"},
                {"agentSocket", socket().string()}}
        .dump();
  }
  std::map<std::string, std::string> env(const std::string& command = "ADD") const {
    return {{"CNI_COMMAND", command},
            {"CNI_CONTAINERID", "ctr-" + name_},
            {"CNI_NETNS", netns_path_},
            {"CNI_IFNAME", "eth0"},
            {"CNI_PATH", kBinDir.string()},
            {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=" + name_}};
  }
  Exec cni(const std::map<std::string, std::string>& e, const std::string& stdin_text) {
    return execWith({(kBinDir / "petrel-cni").string()}, e, stdin_text);
  }
  // The CNI error object on stdout, checked for shape and the expected code.
  void expectError(const Exec& r, int code) {
    EXPECT_EQ(r.exit_code, code) << r.out;
    json e = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(e.is_object()) << "stdout is not a JSON error object: " << r.out;
    EXPECT_EQ(e.value("code", -1), code) << r.out;
    EXPECT_TRUE(e.contains("cniVersion") && e["cniVersion"].is_string()) << r.out;
    EXPECT_FALSE(e.value("msg", "").empty()) << r.out;
  }
  // Nothing left: no new lxc* on the node, no endpoint/allocation in the agent, and every IP the
  // agent handed out released.
  void expectNothingLeft() {
    std::set<std::string> now = lxcLinks();
    for (const auto& l : now) EXPECT_TRUE(lxc_before_.count(l)) << "veth left behind: " << l;
    if (!agent_) return;
    json s = agent_->state();
    ASSERT_TRUE(s.is_object());
    EXPECT_TRUE(s["endpoints"].empty()) << s.dump();
    EXPECT_TRUE(s["allocations"].empty()) << s.dump();
    int allocs = s["calls"].value("AllocateIp", 0);
    if (allocs > 0) {
      EXPECT_FALSE(s["released"].empty()) << "IP not released: " << s.dump();
    }
  }

  std::string name_;
  std::string netns_path_;
  fs::path tmp_;
  std::set<std::string> lxc_before_;
  std::unique_ptr<FakeAgentProcess> agent_;
};

TEST_F(CniBadInputTest, MalformedConfigIsCode7) {
  startAgent();
  expectError(cni(env(), "{\"cniVersion\":\"1.1.0\", not json"), 7);
  expectError(cni(env(), R"({"cniVersion":"1.1.0","type":"petrel-cni"})"), 7);
  expectError(cni(env(), R"({"cniVersion":"1.1.0","name":"p","type":"petrel-cni","mtu":9})"), 7);
  EXPECT_EQ(agent_->state()["calls"].value("AllocateIp", 0), 0);
  expectNothingLeft();
}

TEST_F(CniBadInputTest, MissingNetnsIsCode4) {
  startAgent();
  auto e = env();
  e.erase("CNI_NETNS");
  expectError(cni(e, config()), 4);
  e["CNI_NETNS"] = (tmp_ / "no-such-netns").string();
  expectError(cni(e, config()), 4);
  e["CNI_NETNS"] = (tmp_ / "state.json").string();  // exists, but is not a netns
  expectError(cni(e, config()), 4);
  expectNothingLeft();
}

TEST_F(CniBadInputTest, BadCniVersionIsCode1) {
  startAgent();
  expectError(cni(env(), config("0.1.0")), 1);
  expectError(cni(env(), config("7.0.0")), 1);
  expectNothingLeft();
}

TEST_F(CniBadInputTest, ExistingInterfaceNameIsCode4AndKept) {
  startAgent();
  ASSERT_EQ(shell("ip -n " + name_ + " link add eth0 type veth peer name eth0peer"), 0);
  expectError(cni(env(), config()), 4);
  EXPECT_EQ(shell("ip -n " + name_ + " link show eth0"), 0) << "the existing eth0 was touched";
  expectNothingLeft();
}

TEST_F(CniBadInputTest, AgentUnreachableIsCode11) {
  // No agent at all: the socket path does not exist.
  Exec r = cni(env(), config());
  expectError(r, 11);
  std::string msg = json::parse(r.out, nullptr, false).value("msg", "");
  EXPECT_NE(msg.find("cannot reach petrel-agent at " + socket().string()), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("is the agent running?"), std::string::npos) << msg;
  expectNothingLeft();
}

TEST_F(CniBadInputTest, NetnsDisappearingMidAddRollsBack) {
  // The fake agent removes the netns inside CreateEndpoint, i.e. while petrel-cni is mid-ADD.
  startAgent({"--delete-netns-on-create", netns_path_});
  Exec r = cni(env(), config());
  expectError(r, 3);
  EXPECT_FALSE(fs::exists(netns_path_));
  json s = agent_->state();
  EXPECT_EQ(s["calls"].value("CreateEndpoint", 0), 1) << s.dump();
  EXPECT_EQ(s["calls"].value("DeleteEndpoint", 0), 1) << s.dump();
  expectNothingLeft();
}

TEST_F(CniBadInputTest, FailingCreateEndpointRollsBack) {
  startAgent({"--fail-create-endpoint"});
  Exec r = cni(env(), config());
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("fake agent told to fail"), std::string::npos) << r.out;
  EXPECT_NE(shell("ip -n " + name_ + " link show eth0"), 0) << "pod eth0 left behind";
  expectNothingLeft();
}

TEST_F(CniBadInputTest, AddThenDelLeavesNothingEvenWithAgentGone) {
  startAgent();
  Exec add = cni(env(), config());
  ASSERT_EQ(add.exit_code, 0) << add.out;
  json result = json::parse(add.out, nullptr, false);
  ASSERT_TRUE(result.is_object()) << add.out;
  EXPECT_EQ(result["ips"][0]["gateway"], "10.244.0.1");
  EXPECT_EQ(shell("ip -n " + name_ + " link show eth0"), 0);
  EXPECT_EQ(agent_->state()["endpoints"].size(), 1u);
  Exec del = cni(env("DEL"), config());
  EXPECT_EQ(del.exit_code, 0) << del.out;
  EXPECT_TRUE(del.out.empty()) << del.out;
  expectNothingLeft();
  agent_.reset();  // DEL again with the agent down and the netns gone: still success
  shell("ip netns del " + name_);
  auto e = env("DEL");
  Exec again = cni(e, config());
  EXPECT_EQ(again.exit_code, 0) << again.out;
  e.erase("CNI_NETNS");
  EXPECT_EQ(cni(e, config()).exit_code, 0);
}

}  // namespace
