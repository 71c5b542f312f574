// runProcess, runChecked, startProcess and the pid helpers of tools/sandbox/common/process.h,
// against real child processes (sh, cat, sleep and small scripts in a temp dir).
#include "tools/sandbox/common/process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace petrel::sandbox {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Reaps `pid`; returns its exit code (128 + signal when killed).
int reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls `done` every 10 ms for up to `limit`.
template <typename F>
bool eventually(F done, std::chrono::milliseconds limit = 5000ms) {
  for (auto end = Clock::now() + limit; Clock::now() < end; std::this_thread::sleep_for(10ms)) {
    if (done()) return true;
  }
  return done();
}

class SandboxProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "petrel-process-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (pid_t pid : started_) {
      signalGroup(pid, SIGKILL);
      waitpid(pid, nullptr, 0);  // ECHILD at once when the test reaped it
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // An executable script `name` in the temp dir.
  fs::path script(const std::string& name, const std::string& body) {
    fs::path p = dir_ / name;
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(p, fs::perms(0755));
    return p;
  }

  // startProcess that the fixture kills and reaps at the end if the test did not.
  pid_t start(const ProcessSpec& spec) {
    auto pid = startProcess(spec);
    EXPECT_TRUE(pid.isOk()) << pid.status().toString();
    if (!pid.isOk()) return -1;
    started_.push_back(*pid);
    return *pid;
  }

  fs::path dir_;
  std::vector<pid_t> started_;
};

// ---- runProcess ------------------------------------------------------------------------------

TEST_F(SandboxProcess, RunCapturesOutputErrorAndExitCode) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo to-out; echo to-err >&2; exit 3"};
  auto r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->timed_out);
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->out, "to-out\n");
  EXPECT_EQ(r->err, "to-err\n");

  spec.argv = {"sh", "-c", "kill -TERM $$"};
  r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->exit_code, 128 + SIGTERM);
}

TEST_F(SandboxProcess, RunFeedsStdin) {
  ProcessSpec spec;
  spec.argv = {"cat"};
  spec.input = "line one\nline two";
  auto r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->out, "line one\nline two");
}

TEST_F(SandboxProcess, RunLargeInputAndOutputDoNotDeadlock) {
  // 1 MiB in, the same 1 MiB out on stdout and on stderr: far more than a pipe buffer, so
  // writing all input before reading any output would hang until the timeout.
  std::string input;
  for (int i = 0; input.size() < (1U << 20); ++i) input += std::to_string(i) + "\n";
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "tee /dev/stderr"};
  spec.input = input;
  spec.timeout = 20s;
  auto r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out.size(), input.size());
  EXPECT_TRUE(r->out == input);
  EXPECT_TRUE(r->err == input);
}

TEST_F(SandboxProcess, RunLargeInputToAProgramThatDoesNotReadIt) {
  // The reader goes away with input left: that must not raise SIGPIPE in us (it would end the
  // kubelet, or this test binary).
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "exit 5"};
  spec.input = std::string(1 << 20, 'x');
  spec.timeout = 20s;
  auto r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, 5);
}

// Runs `argv` with a 200 ms timeout; expects it killed for that, soon after the deadline.
void expectKilledAtTimeout(const std::vector<std::string>& argv) {
  ProcessSpec spec;
  spec.argv = argv;
  spec.timeout = 200ms;
  auto begin = Clock::now();
  auto r = runProcess(spec);
  auto took = Clock::now() - begin;
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->exit_code, 128 + SIGKILL);
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 3s);
}

TEST_F(SandboxProcess, RunKillsOnTimeoutAndReturnsPromptly) {
  expectKilledAtTimeout({"sleep", "30"});
}

TEST_F(SandboxProcess, RunTimeoutHoldsAfterTheChildClosedItsOutput) {
  expectKilledAtTimeout({"sh", "-c", "exec >/dev/null 2>&1; exec sleep 30"});
}

TEST_F(SandboxProcess, RunFeedsAllInputToAChildThatClosedItsOutput) {
  const fs::path copy = dir_ / "copy";
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "exec >/dev/null 2>&1; cat > " + copy.string()};
  spec.input = std::string(size_t{300} * 1024, 'y');
  spec.timeout = 10s;
  auto r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(fs::file_size(copy), spec.input.size());
}

TEST_F(SandboxProcess, RunResolvesArgv0OnTheChildsPath) {
  const std::string name = "petrel-only-here-" + std::to_string(getpid());
  script(name, "echo \"found me with PATH=$PATH\"");
  ProcessSpec spec;
  spec.argv = {name};
  spec.env = {"PATH=" + dir_.string()};
  auto r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, "found me with PATH=" + dir_.string() + "\n");

  // With our own environment (whose PATH does not have the temp dir) it is not found.
  spec.env.clear();
  r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->exit_code, 127);
}

TEST_F(SandboxProcess, RunSkipsDirectoriesOnPath) {
  // Like execvp: a directory named like the program is not the program.
  fs::create_directory(dir_ / "sh");
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo the-real-sh"};
  spec.env = {"PATH=" + dir_.string() + ":/usr/bin:/bin"};
  auto r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, "the-real-sh\n");
}

TEST_F(SandboxProcess, RunGivesOnlyTheGivenEnvironment) {
  ProcessSpec spec;
  spec.argv = {"env"};
  spec.env = {"PATH=/usr/bin:/bin", "PETREL_TEST_VAR=a b=c"};
  auto r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->out, "PATH=/usr/bin:/bin\nPETREL_TEST_VAR=a b=c\n");
}

TEST_F(SandboxProcess, RunMissingProgramIs127WithTheReason) {
  ProcessSpec spec;
  spec.argv = {"petrel-no-such-program-" + std::to_string(getpid())};
  auto r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->exit_code, 127);
  EXPECT_NE(r->err.find(spec.argv[0]), std::string::npos) << r->err;
  EXPECT_NE(r->err.find("No such file or directory"), std::string::npos) << r->err;

  spec.argv = {(dir_ / "absent").string()};
  r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->exit_code, 127);
  EXPECT_NE(r->err.find("No such file or directory"), std::string::npos) << r->err;
}

TEST_F(SandboxProcess, RunInWorkingDirDoesNotRunProgramsFromIt) {
  ProcessSpec spec;
  spec.argv = {"pwd"};
  spec.working_dir = dir_.string();
  auto r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->out, fs::canonical(dir_).string() + "\n");

  // Like execvp (and a container runtime), a bare name is looked up on PATH only, never in the
  // working directory.
  const std::string name = "petrel-cwd-only-" + std::to_string(getpid());
  script(name, "echo ran-from-cwd");
  spec.argv = {name};
  spec.env = {"PATH=/usr/bin:/bin"};
  r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->out, "");
  EXPECT_EQ(r->exit_code, 127);

  spec.working_dir = (dir_ / "missing").string();
  spec.argv = {"true"};
  r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->exit_code, 127);
  EXPECT_NE(r->err.find("chdir"), std::string::npos) << r->err;
}

TEST_F(SandboxProcess, RunRejectsEmptyArgv) {
  auto r = runProcess(ProcessSpec{});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

// ---- runChecked ------------------------------------------------------------------------------

TEST_F(SandboxProcess, RunCheckedNamesCommandExitAndStderr) {
  EXPECT_TRUE(runChecked({"true"}).isOk());
  Status s =
      runChecked({"sh", "-c", "echo noise; echo 'RTNETLINK answers: File exists' >&2; exit 2"});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("`sh -c echo noise;"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("exited 2"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("RTNETLINK answers: File exists"), std::string::npos) << s.message();
  const std::string tail = ": RTNETLINK answers: File exists";
  ASSERT_GE(s.message().size(), tail.size());
  EXPECT_EQ(s.message().substr(s.message().size() - tail.size()), tail)
      << "stderr (not stdout) is the reason, without its newline: " << s.message();

  Status slow = runChecked({"sleep", "30"}, 100ms);
  ASSERT_FALSE(slow.isOk());
  EXPECT_NE(slow.message().find("`sleep 30` timed out"), std::string::npos) << slow.message();
}

// ---- startProcess and pids -------------------------------------------------------------------

TEST_F(SandboxProcess, StartAppendsOutputToTheLogFile) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo to-out; echo to-err >&2; read x || echo stdin-is-empty"};
  spec.log_path = (dir_ / "c.log").string();
  pid_t pid = start(spec);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(reap(pid), 0);
  EXPECT_EQ(slurp(spec.log_path), "to-out\nto-err\nstdin-is-empty\n");
  pid = start(spec);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(reap(pid), 0);
  EXPECT_EQ(slurp(spec.log_path),
            "to-out\nto-err\nstdin-is-empty\nto-out\nto-err\nstdin-is-empty\n")
      << "appended, not truncated";
}

TEST_F(SandboxProcess, StartMissingProgramIsAnError) {
  ProcessSpec spec;
  spec.argv = {"petrel-no-such-program-" + std::to_string(getpid())};
  auto pid = startProcess(spec);
  ASSERT_FALSE(pid.isOk());
  EXPECT_NE(pid.status().message().find("cannot start " + spec.argv[0]), std::string::npos)
      << pid.status().message();
  EXPECT_NE(pid.status().message().find("No such file or directory"), std::string::npos)
      << pid.status().message();

  spec.argv = {"true"};
  spec.log_path = (dir_ / "no-dir" / "c.log").string();
  pid = startProcess(spec);
  ASSERT_FALSE(pid.isOk());
  EXPECT_NE(pid.status().message().find(spec.log_path), std::string::npos)
      << pid.status().message();
}

TEST_F(SandboxProcess, StartedProcessLeadsItsOwnSession) {
  ProcessSpec spec;
  spec.argv = {"sleep", "30"};
  pid_t pid = start(spec);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(getsid(pid), pid);
  EXPECT_EQ(getpgid(pid), pid);
  EXPECT_NE(getpgid(pid), getpgid(0));
}

TEST_F(SandboxProcess, StartTimeAndAliveness) {
  ProcessSpec spec;
  spec.argv = {"sleep", "30"};
  pid_t pid = start(spec);
  ASSERT_GT(pid, 0);
  uint64_t st = processStartTime(pid);
  EXPECT_GT(st, 0U);
  EXPECT_EQ(processStartTime(pid), st) << "stable";
  EXPECT_GE(st, processStartTime(getpid())) << "started after us";
  EXPECT_TRUE(processAlive(pid, st));
  EXPECT_FALSE(processAlive(pid, st + 1)) << "a recycled pid has another start time";
  EXPECT_FALSE(processAlive(0, st));
  EXPECT_FALSE(processAlive(-1, st));

  ASSERT_EQ(kill(pid, SIGKILL), 0);
  // Dead but not reaped yet: a zombie is not alive.
  EXPECT_TRUE(eventually([&] { return !processAlive(pid, st); }));
  EXPECT_GT(processStartTime(pid), 0U) << "the zombie still has its /proc entry";
  EXPECT_EQ(reap(pid), 128 + SIGKILL);
  EXPECT_FALSE(processAlive(pid, st));
  EXPECT_EQ(processStartTime(pid), 0U);
}

TEST_F(SandboxProcess, SignalGroupReachesGrandchildren) {
  const fs::path pid_file = dir_ / "grandchild.pid";
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "sleep 30 & echo $! > " + pid_file.string() + "; wait"};
  pid_t pid = start(spec);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(eventually([&] { return slurp(pid_file).find('\n') != std::string::npos; }));
  pid_t grandchild = std::stoi(slurp(pid_file));
  uint64_t gst = processStartTime(grandchild);
  ASSERT_TRUE(processAlive(grandchild, gst));
  EXPECT_EQ(getpgid(grandchild), pid) << "the grandchild is in the started process's group";

  signalGroup(pid, SIGKILL);
  EXPECT_EQ(reap(pid), 128 + SIGKILL);
  EXPECT_TRUE(eventually([&] { return !processAlive(grandchild, gst); }))
      << "the grandchild " << grandchild << " survived";
  signalGroup(0, SIGKILL);  // no-op, must not signal our own group
  signalGroup(-1, SIGKILL);
}

// ---- network namespaces ----------------------------------------------------------------------

TEST_F(SandboxProcess, NetnsThatIsNotANamespaceIsAClearError) {
  const fs::path fake = dir_ / "not-a-netns";
  std::ofstream(fake) << "plain file";
  ProcessSpec spec;
  spec.argv = {"true"};
  spec.netns_path = fake.string();
  auto r = runProcess(spec);
  ASSERT_FALSE(r.isOk()) << "exit " << r->exit_code << ": " << r->err;
  EXPECT_NE(r.status().message().find(fake.string()), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("not a network namespace"), std::string::npos)
      << r.status().message();

  auto pid = startProcess(spec);
  ASSERT_FALSE(pid.isOk());
  EXPECT_NE(pid.status().message().find(fake.string()), std::string::npos)
      << pid.status().message();

  spec.netns_path = (dir_ / "absent").string();
  r = runProcess(spec);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find(spec.netns_path), std::string::npos) << r.status().message();

  // Another kind of namespace is not a network namespace either.
  spec.netns_path = "/proc/self/ns/uts";
  r = runProcess(spec);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("not a network namespace"), std::string::npos)
      << r.status().message();
}

TEST_F(SandboxProcess, RunsInsideTheGivenNetns) {
  ASSERT_EQ(geteuid(), 0u) << "this test enters a network namespace: run the unit tests as root";
  ProcessSpec spec;
  spec.argv = {"readlink", "/proc/self/ns/net"};
  spec.netns_path = "/proc/self/ns/net";
  auto r = runProcess(spec);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out, fs::read_symlink("/proc/self/ns/net").string() + "\n");
}

TEST_F(SandboxProcess, NoDescriptorLeaks) {
  auto openFds = [] {
    return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator{});
  };
  const auto before = openFds();
  for (int i = 0; i < 20; ++i) {
    ProcessSpec ok;
    ok.argv = {"cat"};
    ok.input = "x";
    EXPECT_TRUE(runProcess(ok).isOk());
    ProcessSpec missing;
    missing.argv = {"petrel-no-such-program-" + std::to_string(getpid())};
    EXPECT_TRUE(runProcess(missing).isOk());
    EXPECT_FALSE(startProcess(missing).isOk());
    ProcessSpec bad_netns = ok;
    bad_netns.netns_path = "/proc/self/ns/uts";
    EXPECT_FALSE(runProcess(bad_netns).isOk());
    EXPECT_FALSE(startProcess(bad_netns).isOk());
    ProcessSpec started;
    started.argv = {"true"};
    started.log_path = (dir_ / "leak.log").string();
    pid_t pid = start(started);
    ASSERT_GT(pid, 0);
    EXPECT_EQ(reap(pid), 0);
  }
  // A leak can only add descriptors; fewer is another test's thread closing one of its own.
  EXPECT_LE(openFds(), before);
}

TEST(SandboxProcessHelpers, NetnsInodeAndSelfDir) {
  EXPECT_GT(netnsInode("/proc/self/ns/net"), 0U);
  EXPECT_EQ(netnsInode("/proc/self/ns/net"),
            netnsInode("/proc/" + std::to_string(getpid()) + "/ns/net"));
  EXPECT_EQ(netnsInode("/nonexistent/petrel/netns"), 0U);
  EXPECT_EQ(selfDir(), fs::read_symlink("/proc/self/exe").parent_path().string());
}

}  // namespace
}  // namespace petrel::sandbox
