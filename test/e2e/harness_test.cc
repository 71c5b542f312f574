// Tests of the e2e harness itself: the runner's exit codes, output capture and deadline,
// background processes, namespace cleanup and the requirement checks that must fail loudly.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

TEST(HarnessTest, RunCapturesOutputExitCodeAndInput) {
  RunOptions options;
  options.input = "from-stdin\n";
  options.env = {{"PE2E_VALUE", "from-env"}};
  CmdResult r = sh("cat; echo \"$PE2E_VALUE\"; echo oops >&2; exit 3", options);
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_FALSE(r.timedOut);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.out, "from-stdin\nfrom-env\n");
  EXPECT_EQ(r.err, "oops\n");
  EXPECT_EQ(run({"/nonexistent/pe2e-binary"}).exitCode, 127);
}

// A process is gone once /proc has no such pid or only its zombie, waiting for its reaper.
bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const auto state_at = stat.rfind(") ");  // after the command name, which may hold anything
  return state_at != std::string::npos && stat.substr(state_at + 2, 1) != "Z";
}

TEST(HarnessTest, RunKillsTheWholeGroupAtTheDeadline) {
  TempDir dir;
  const auto pid_file = dir / "grandchild.pid";
  RunOptions options;
  options.timeout = 1s;
  auto start = std::chrono::steady_clock::now();
  // A grandchild in the background that outlives its parent unless the whole group is killed.
  CmdResult r =
      sh("sh -c 'echo $$ > " + pid_file.string() + "; exec sleep 30' & sleep 30", options);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.timedOut);
  EXPECT_LT(took, 5s);
  std::ifstream in(pid_file);
  pid_t grandchild = 0;
  ASSERT_TRUE(in >> grandchild) << "the grandchild did not start within the deadline";
  EXPECT_TRUE(waitUntil([&] { return !alive(grandchild); }, 2s, 20ms))
      << "a grandchild outlived the deadline";
}

TEST(HarnessTest, BackgroundProcessLogsAndStops) {
  TempDir dir;
  BackgroundProcess p({"/bin/sh", "-c", "echo started; exec sleep 60"}, dir / "log");
  ASSERT_TRUE(waitUntil([&] { return p.log().find("started") != std::string::npos; }, 5s));
  EXPECT_TRUE(p.running());
  auto status = p.signalAndWait(SIGKILL, 5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 128 + SIGKILL);
  EXPECT_FALSE(p.running());
}

TEST(HarnessTest, RequirementsFailWithAClearMessage) {
  auto missing = requireTool("pe2e-no-such-tool");
  EXPECT_FALSE(missing);
  EXPECT_NE(std::string(missing.message()).find("pe2e-no-such-tool"), std::string::npos);
  EXPECT_TRUE(requireTool("sh"));
  auto file = requireFile("/nonexistent/pe2e", "build it");
  EXPECT_FALSE(file);
  EXPECT_NE(std::string(file.message()).find("build it"), std::string::npos);
}

TEST(HarnessTest, NetnsIsCreatedWithLoopbackUpAndDeleted) {
  ASSERT_TRUE(requireRoot());
  std::string name;
  {
    Netns ns("pe2et");
    name = ns.name();
    EXPECT_EQ(name.rfind("pe2et-" + std::to_string(getpid()) + "-", 0), 0u) << name;
    EXPECT_TRUE(std::filesystem::exists(ns.path()));
    EXPECT_EQ(ns.ipv4("lo"), "127.0.0.1");
    CmdResult r = ns.exec({"ip", "-o", "link", "show", "lo"});
    EXPECT_NE(r.out.find("LOWER_UP"), std::string::npos) << r.describe();
  }
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + name)) << name << " left behind";
}

}  // namespace
}  // namespace petrel::e2e
