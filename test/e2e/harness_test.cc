// Tests of the e2e harness itself: the runner's exit codes, output capture and deadline,
// background processes, namespace cleanup and the requirement checks that must fail loudly.
#include <signal.h>
#include <unistd.h>

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

TEST(HarnessTest, RunKillsTheWholeGroupAtTheDeadline) {
  TempDir dir;
  const auto marker = dir / "survivor";
  RunOptions options;
  options.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  // The grandchild would write the marker after 2 s if it survived the group kill.
  CmdResult r = sh("(sleep 2; touch " + marker.string() + ") & sleep 30", options);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.timedOut);
  EXPECT_LT(took, 5s);
  std::this_thread::sleep_for(2500ms);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "a grandchild outlived the deadline";
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
