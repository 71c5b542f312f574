// End-to-end test harness: process runner, namespaces, agent and CNI helpers (see harness.h).
#include "test/e2e/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

extern char** environ;

namespace petrel::e2e {
namespace fs = std::filesystem;

namespace {

std::atomic<int> g_counter{0};

// The build's kubectl and helm (links to petrel-k8s, made by scripts/build-k8s.sh) come first on
// PATH, ahead of any the machine has: every test drives the sandbox with the pinned release.
const bool g_bin_dir_first_on_path = [] {
  const char* path = std::getenv("PATH");
  const std::string rest = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  return setenv("PATH", (std::string(PETREL_BIN_DIR) + ":" + rest).c_str(), 1) == 0;
}();

int nextCounter() {
  return g_counter.fetch_add(1) + 1;
}

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Owns the argv/envp arrays handed to exec; built before fork so the child only calls
// async-signal-safe functions.
struct ExecImage {
  std::vector<std::string> argvStore;
  std::vector<std::string> envStore;
  std::vector<char*> argv;
  std::vector<char*> envp;

  ExecImage(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            bool clearEnv)
      : argvStore(args) {
    std::map<std::string, std::string> merged;
    if (clearEnv) {
      const char* path = std::getenv("PATH");
      merged["PATH"] = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
    } else {
      for (char** e = environ; *e != nullptr; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
    }
    for (const auto& [k, v] : env) merged[k] = v;
    for (const auto& [k, v] : merged) envStore.push_back(k + "=" + v);
    for (auto& a : argvStore) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envStore) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

[[noreturn]] void execChild(ExecImage& image) {
  execvpe(image.argv[0], image.argv.data(), image.envp.data());
  const char msg[] = "e2e harness: exec failed\n";
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
  (void)ignored;
  _exit(127);
}

void readAvailable(int fd, std::string& into, bool& open) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) open = false;
    return;  // EAGAIN or EOF or error
  }
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail(const std::string& text, size_t max = 4000) {
  if (text.size() <= max) return text;
  return "..." + text.substr(text.size() - max);
}

}  // namespace

// ---------------------------------------------------------------- requirements and paths

::testing::AssertionResult requireRoot() {
  if (geteuid() != 0) {
    return ::testing::AssertionFailure()
           << "this end-to-end test needs root (network namespaces, veths, BPF); run it as root";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult requireTool(const std::string& tool) {
  if (tool.find('/') != std::string::npos) {
    if (access(tool.c_str(), X_OK) == 0) return ::testing::AssertionSuccess();
  } else {
    const char* pathEnv = std::getenv("PATH");
    std::string path = pathEnv ? pathEnv : "";
    path += ":/usr/sbin:/sbin";
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (!dir.empty() && access((fs::path(dir) / tool).c_str(), X_OK) == 0) {
        return ::testing::AssertionSuccess();
      }
    }
  }
  return ::testing::AssertionFailure()
         << "required tool '" << tool << "' is not installed; run scripts/install-deps.sh";
}

::testing::AssertionResult requireFile(const fs::path& path, const std::string& hint) {
  if (fs::exists(path)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "required file " << path << " is missing: " << hint;
}

::testing::AssertionResult requireBasics() {
  if (auto r = requireRoot(); !r) return r;
  for (const char* tool : {"ip", "nsenter"}) {
    if (auto r = requireTool(tool); !r) return r;
  }
  for (const char* bin : {"petrel-agent", "petrel-cni", "petrel"}) {
    if (auto r = requireFile(binDir() / bin, "build it with `ninja -C build`"); !r) return r;
  }
  return ::testing::AssertionSuccess();
}

fs::path binDir() {
  if (const char* dir = std::getenv("PETREL_E2E_BIN_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return PETREL_BIN_DIR;
}

fs::path sourceDir() {
  return PETREL_SOURCE_DIR;
}

std::string uniqueName(const std::string& prefix) {
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(nextCounter());
}

uint16_t uniquePort() {
  return static_cast<uint16_t>(20000 + (getpid() * 37 + nextCounter() * 101) % 20000);
}

bool waitUntil(const std::function<bool()>& probe, Millis timeout, Millis interval) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (probe()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

std::string stripPrefix(const std::string& cidr) {
  return cidr.substr(0, cidr.find('/'));
}

std::string podmanEngineConf() {
  return "[containers]\n"
         "default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
         "[engine]\n"
         "runtime = \"runc\"\n"
         "cgroup_manager = \"cgroupfs\"\n"
         "events_logger = \"file\"\n";
}

// ---------------------------------------------------------------- running commands

std::string CmdResult::describe() const {
  std::ostringstream os;
  if (timedOut) {
    os << "timed out";
  } else {
    os << "exit " << exitCode;
  }
  os << "\n  stdout: " << tail(out) << "\n  stderr: " << tail(err);
  return os.str();
}

CmdResult run(const std::vector<std::string>& argv, const RunOptions& options) {
  CmdResult result;
  if (argv.empty()) {
    result.err = "empty command";
    return result;
  }
  ExecImage image(argv, options.env, options.clearEnv);
  int inPipe[2], outPipe[2], errPipe[2];
  if (pipe2(inPipe, O_CLOEXEC) != 0 || pipe2(outPipe, O_CLOEXEC) != 0 ||
      pipe2(errPipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  pid_t pid = fork();
  if (pid < 0) {
    result.err = std::string("fork: ") + std::strerror(errno);
    return result;
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(inPipe[0], STDIN_FILENO);
    dup2(outPipe[1], STDOUT_FILENO);
    dup2(errPipe[1], STDERR_FILENO);
    execChild(image);
  }
  setpgid(pid, pid);
  close(inPipe[0]);
  close(outPipe[1]);
  close(errPipe[1]);
  if (!options.input.empty()) {
    const char* p = options.input.data();
    size_t left = options.input.size();
    while (left > 0) {
      ssize_t n = write(inPipe[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  close(inPipe[1]);
  fcntl(outPipe[0], F_SETFL, O_NONBLOCK);
  fcntl(errPipe[0], F_SETFL, O_NONBLOCK);

  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool outOpen = true, errOpen = true;
  int status = 0;
  bool exited = false;
  while (!exited) {
    pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
    poll(fds, 2, 20);
    if (outOpen) readAvailable(outPipe[0], result.out, outOpen);
    if (errOpen) readAvailable(errPipe[0], result.err, errOpen);
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.timedOut = true;
      exited = true;
    }
  }
  // Drain what is already buffered; do not wait for EOF (a daemonized grandchild may hold
  // the pipe open).
  if (outOpen) readAvailable(outPipe[0], result.out, outOpen);
  if (errOpen) readAvailable(errPipe[0], result.err, errOpen);
  close(outPipe[0]);
  close(errPipe[0]);
  result.exitCode = decodeStatus(status);
  return result;
}

CmdResult sh(const std::string& script, const RunOptions& options) {
  return run({"/bin/sh", "-c", script}, options);
}

// ---------------------------------------------------------------- BackgroundProcess

BackgroundProcess::BackgroundProcess(std::vector<std::string> argv, fs::path log,
                                     std::map<std::string, std::string> env)
    : log_(std::move(log)) {
  ExecImage image(argv, env, false);
  int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_ = fork();
  if (pid_ == 0) {
    setpgid(0, 0);
    // Nothing we start may outlive the test binary.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execChild(image);
  }
  if (pid_ > 0) setpgid(pid_, pid_);
  if (fd >= 0) close(fd);
}

BackgroundProcess::~BackgroundProcess() {
  terminate(3s);
}

bool BackgroundProcess::running() {
  if (pid_ <= 0 || status_) return false;
  int status = 0;
  pid_t w = waitpid(pid_, &status, WNOHANG);
  if (w == pid_) {
    status_ = decodeStatus(status);
    return false;
  }
  return true;
}

std::optional<int> BackgroundProcess::wait(Millis timeout) {
  waitUntil([this] { return !running(); }, timeout, 20ms);
  return status_;
}

std::optional<int> BackgroundProcess::signalAndWait(int sig, Millis timeout) {
  if (running()) kill(pid_, sig);
  return wait(timeout);
}

void BackgroundProcess::terminate(Millis grace) {
  if (pid_ <= 0) return;
  if (running()) {
    kill(-pid_, SIGTERM);
    kill(pid_, SIGTERM);
    if (!wait(grace)) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      wait(5s);
    }
  }
  // Children that stayed in the group (e.g. a server's workers) go too.
  kill(-pid_, SIGKILL);
}

std::string BackgroundProcess::log() const {
  return readFile(log_);
}

// ---------------------------------------------------------------- TempDir, Netns

TempDir::TempDir(const std::string& prefix) {
  path_ = fs::temp_directory_path() / uniqueName(prefix);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Netns::Netns(const std::string& prefix) : name_(uniqueName(prefix)) {
  CmdResult r = run({"ip", "netns", "add", name_});
  EXPECT_TRUE(r.ok()) << "ip netns add " << name_ << ": " << r.describe();
  r = run({"ip", "-n", name_, "link", "set", "lo", "up"});
  EXPECT_TRUE(r.ok()) << "lo up in " << name_ << ": " << r.describe();
}

Netns::~Netns() {
  CmdResult r = run({"ip", "netns", "del", name_});
  EXPECT_TRUE(r.ok()) << "ip netns del " << name_ << ": " << r.describe();
}

std::vector<std::string> Netns::wrap(const std::vector<std::string>& argv) const {
  std::vector<std::string> full = {"nsenter", "--net=" + path(), "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

CmdResult Netns::exec(const std::vector<std::string>& argv, const RunOptions& options) const {
  return run(wrap(argv), options);
}

CmdResult Netns::sh(const std::string& script, const RunOptions& options) const {
  return exec({"/bin/sh", "-c", script}, options);
}

std::string Netns::ipv4(const std::string& ifname) const {
  CmdResult r = exec({"ip", "-j", "-4", "addr", "show", "dev", ifname});
  if (!r.ok()) return "";
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_array()) return "";
  for (const auto& link : j) {
    for (const auto& a : link.value("addr_info", nlohmann::json::array())) {
      if (a.value("family", "") == "inet") return a.value("local", "");
    }
  }
  return "";
}

std::vector<std::string> Netns::links() const {
  std::vector<std::string> names;
  CmdResult r = exec({"ip", "-j", "link", "show"});
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_array()) return names;
  for (const auto& link : j) names.push_back(link.value("ifname", ""));
  return names;
}

// ---------------------------------------------------------------- AgentProcess

AgentProcess::AgentProcess(const Netns& node, AgentOptions options)
    : node_(node), options_(std::move(options)) {
  std::string id = uniqueName("pe2e");
  nodeName_ = "node-" + id;
  bpfRoot_ = "/sys/fs/bpf/" + id;
  stateDir_ = (fs::temp_directory_path() / (id + "-state")).string();
  socket_ = stateDir_ + "/petrel.sock";
  logPath_ = fs::temp_directory_path() / (id + "-agent.log");
}

AgentProcess::~AgentProcess() {
  if (proc_) {
    proc_->terminate(10s);
    proc_.reset();
  }
  std::error_code ec;
  fs::remove_all(bpfRoot_, ec);
  EXPECT_FALSE(ec) << "remove pin dir " << bpfRoot_ << ": " << ec.message();
  fs::remove_all(stateDir_, ec);
  fs::remove(logPath_, ec);
}

std::string AgentProcess::log() const {
  return tail(readFile(logPath_), 6000);
}

bool AgentProcess::running() {
  return proc_ && proc_->running();
}

::testing::AssertionResult AgentProcess::start() {
  if (running()) return ::testing::AssertionFailure() << "agent already running";
  std::error_code ec;
  fs::create_directories(stateDir_, ec);
  ++starts_;
  { std::ofstream(logPath_, std::ios::app) << "=== e2e harness: start #" << starts_ << " ===\n"; }
  std::vector<std::string> argv =
      node_.wrap({(binDir() / "petrel-agent").string(), "--node-name", nodeName_, "--pod-cidr",
                  options_.podCidr, "--bpf-root", bpfRoot_, "--state-dir", stateDir_, "--socket",
                  socket_, "--mtu", std::to_string(options_.mtu)});
  argv.insert(argv.end(), options_.extraArgs.begin(), options_.extraArgs.end());
  proc_ = std::make_unique<BackgroundProcess>(argv, logPath_, options_.env);
  bool ready = waitUntil(
      [this] {
        if (!proc_->running()) return true;
        return cli({"status"}).ok();
      },
      options_.readyTimeout, 100ms);
  if (!proc_->running()) {
    return ::testing::AssertionFailure() << "petrel-agent exited during startup (status "
                                         << proc_->wait(0ms).value_or(-1) << "); log:\n"
                                         << log();
  }
  if (!ready) {
    CmdResult last = cli({"status"});
    return ::testing::AssertionFailure()
           << "petrel-agent not ready after " << options_.readyTimeout.count()
           << " ms; last `petrel status`: " << last.describe() << "\nagent log:\n"
           << log();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult AgentProcess::stop() {
  if (!running()) return ::testing::AssertionFailure() << "agent not running";
  auto status = proc_->signalAndWait(SIGTERM, 15s);
  if (!status) {
    return ::testing::AssertionFailure() << "agent did not exit within 15 s of SIGTERM; log:\n"
                                         << log();
  }
  if (*status != 0) {
    return ::testing::AssertionFailure()
           << "agent exited with status " << *status << " after SIGTERM; log:\n"
           << log();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult AgentProcess::kill9() {
  if (!running()) return ::testing::AssertionFailure() << "agent not running";
  auto status = proc_->signalAndWait(SIGKILL, 10s);
  if (!status) return ::testing::AssertionFailure() << "agent survived SIGKILL for 10 s";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult AgentProcess::restart() {
  if (running()) {
    if (auto r = stop(); !r) return r;
  }
  return start();
}

CmdResult AgentProcess::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {(binDir() / "petrel").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--socket");
  argv.push_back(socket_);
  RunOptions options;
  options.timeout = 10s;
  return run(argv, options);
}

nlohmann::json AgentProcess::endpoints(std::string* error) const {
  CmdResult r = cli({"endpoint", "list", "-o", "json"});
  if (!r.ok()) {
    if (error) *error = "petrel endpoint list -o json: " + r.describe();
    return nullptr;
  }
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) {
    if (error) *error = "petrel endpoint list -o json printed no JSON: " + r.out;
    return nullptr;
  }
  // Accept both a bare array and {"endpoints": [...]}.
  if (j.is_object() && j.contains("endpoints")) j = j["endpoints"];
  if (j.is_null()) j = nlohmann::json::array();
  return j;
}

nlohmann::json AgentProcess::bpfEndpoints(std::string* error) const {
  RunOptions options;
  options.timeout = 10s;
  CmdResult r = run({(binDir() / "petrel").string(), "bpf", "endpoint", "list", "-o", "json",
                     "--bpf-root", bpfRoot_},
                    options);
  auto j = r.ok() ? nlohmann::json::parse(r.out, nullptr, false) : nlohmann::json();
  if (!r.ok() || j.is_discarded()) {
    if (error) *error = "petrel bpf endpoint list -o json: " + r.describe();
    return nullptr;
  }
  if (j.is_null()) j = nlohmann::json::array();
  return j;
}

// ---------------------------------------------------------------- CNI

nlohmann::json petrelCniConfig(const AgentProcess& agent, const std::string& cniVersion) {
  return {{"cniVersion", cniVersion},
          {"name", "petrel"},
          {"type", "petrel-cni"},
          {"agentSocket", agent.socket()},
          {"mtu", agent.options().mtu}};
}

CmdResult runCni(const Netns& node, const AgentProcess& agent, const CniCall& call) {
  nlohmann::json config = call.config.is_null() ? petrelCniConfig(agent) : call.config;
  RunOptions options;
  options.timeout = 30s;
  options.input = config.dump();
  options.env = {{"CNI_COMMAND", call.command}, {"CNI_CONTAINERID", call.containerId},
                 {"CNI_NETNS", call.netnsPath}, {"CNI_IFNAME", call.ifname},
                 {"CNI_ARGS", call.args},       {"CNI_PATH", binDir().string() + ":/usr/lib/cni"}};
  return node.exec({(binDir() / "petrel-cni").string()}, options);
}

namespace {
std::string randomContainerId() {
  std::random_device rd;
  std::mt19937_64 gen(rd() ^ (static_cast<uint64_t>(getpid()) << 20) ^ nextCounter());
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 64; ++i) id.push_back(hex[gen() % 16]);
  return id;
}
}  // namespace

CniPod::CniPod(const Netns& node, const AgentProcess& agent, const std::string& prefix)
    : node_(node), agent_(agent), netns_(prefix), containerId_(randomContainerId()) {}

CniPod::~CniPod() {
  if (added_) {
    auto r = del();
    EXPECT_TRUE(r) << r.message();
  }
}

CmdResult CniPod::call(const std::string& command) const {
  CniCall c;
  c.command = command;
  c.containerId = containerId_;
  c.netnsPath = netns_.path();
  c.args = "K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=" + netns_.name();
  // As runtimes do: CHECK (required by the spec) and DEL carry the ADD result as prevResult.
  if (command != "ADD" && result_.is_object()) {
    c.config = petrelCniConfig(agent_);
    c.config["prevResult"] = result_;
  }
  return runCni(node_, agent_, c);
}

::testing::AssertionResult CniPod::add() {
  CmdResult r = call("ADD");
  if (!r.ok()) {
    return ::testing::AssertionFailure()
           << "petrel-cni ADD for " << netns_.name() << ": " << r.describe() << "\nagent log:\n"
           << agent_.log();
  }
  result_ = nlohmann::json::parse(r.out, nullptr, false);
  if (result_.is_discarded()) {
    return ::testing::AssertionFailure() << "petrel-cni ADD printed no JSON: " << r.out;
  }
  added_ = true;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult CniPod::del() {
  CmdResult r = call("DEL");
  added_ = false;
  if (!r.ok()) {
    return ::testing::AssertionFailure()
           << "petrel-cni DEL for " << netns_.name() << ": " << r.describe();
  }
  return ::testing::AssertionSuccess();
}

std::string CniPod::ip() const {
  if (!result_.is_object()) return "";
  for (const auto& ip : result_.value("ips", nlohmann::json::array())) {
    std::string addr = ip.value("address", "");
    if (addr.find(':') == std::string::npos && !addr.empty()) return stripPrefix(addr);
  }
  return "";
}

std::string CniPod::hostIfname() const {
  if (!result_.is_object()) return "";
  for (const auto& itf : result_.value("interfaces", nlohmann::json::array())) {
    if (!itf.contains("sandbox") || itf["sandbox"].get<std::string>().empty()) {
      return itf.value("name", "");
    }
  }
  return "";
}

// ---------------------------------------------------------------- stale-resource sweep

namespace {

// Removes what an earlier run left behind when it was killed before its destructors ran
// (e.g. a ctest timeout): namespaces, pin dirs and temp dirs named <prefix>-<pid>-<n> whose
// pid is no longer alive. Live runs (other pids) are left alone.
class StaleResourceSweep : public ::testing::Environment {
 public:
  void SetUp() override {
    if (geteuid() != 0) return;
    static const std::regex kName(R"(^pe2e[a-z]*-(\d+)-\d+.*$)");
    auto dead = [](const std::string& name) {
      std::smatch m;
      if (!std::regex_match(name, m, kName)) return false;
      const std::string pid = m[1].str();
      return pid != std::to_string(getpid()) && !fs::exists("/proc/" + pid);
    };
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
      const std::string name = e.path().filename().string();
      if (dead(name)) run({"ip", "netns", "del", name});
    }
    for (const char* dir : {"/sys/fs/bpf", "/tmp"}) {
      for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (dead(e.path().filename().string())) fs::remove_all(e.path(), ec);
      }
    }
  }
};

[[maybe_unused]] ::testing::Environment* const g_sweep =
    ::testing::AddGlobalTestEnvironment(new StaleResourceSweep);

}  // namespace

}  // namespace petrel::e2e
