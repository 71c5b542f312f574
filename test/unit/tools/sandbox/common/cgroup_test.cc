// The cgroup helpers of tools/sandbox/common/cgroup.h (finding the cgroup2 mount, reading a
// process's cgroup) and ProcessSpec::cgroup_dir. The tests that make a real cgroup need root and
// a cgroup2 mount and skip otherwise.
#include "tools/sandbox/common/cgroup.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SandboxCgroup, FindsTheUnifiedMountInHybridMode) {
  const std::string mounts =
      "tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
      "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
      "cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0\n"
      "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";
  EXPECT_EQ(cgroup2MountFromMounts(mounts), "/sys/fs/cgroup/unified");
}

TEST(SandboxCgroup, FindsTheRootMountOnPureV2) {
  const std::string mounts =
      "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
      "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n"
      "bpf /sys/fs/bpf bpf rw,relatime,mode=700 0 0\n";
  EXPECT_EQ(cgroup2MountFromMounts(mounts), "/sys/fs/cgroup");
}

TEST(SandboxCgroup, NoCgroup2MountedIsEmpty) {
  // v1 controllers and a path that merely contains "cgroup2" do not count.
  const std::string mounts =
      "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
      "tmpfs /run/cgroup2 tmpfs rw 0 0\n";
  EXPECT_EQ(cgroup2MountFromMounts(mounts), "");
  EXPECT_EQ(cgroup2MountFromMounts(""), "");
}

TEST(SandboxCgroup, DecodesEscapedMountPaths) {
  EXPECT_EQ(cgroup2MountFromMounts("none /mnt/my\\040cgroups cgroup2 rw 0 0\n"), "/mnt/my cgroups");
}

TEST(SandboxCgroup, ReadsTheUnifiedLineOfProcCgroup) {
  EXPECT_EQ(cgroup2PathFromProcCgroup("9:name=systemd:/\n4:memory:/x/y\n0::/petrel-psbx/node-1\n"),
            "/petrel-psbx/node-1");
  EXPECT_EQ(cgroup2PathFromProcCgroup("0::/\n"), "/");
  EXPECT_EQ(cgroup2PathFromProcCgroup("4:memory:/x\n"), "");
}

TEST(SandboxCgroup, AMissingCgroupFailsBeforeTheProcessStarts) {
  ProcessSpec spec;
  spec.argv = {"true"};
  spec.cgroup_dir = "/nonexistent/petrel-cgroup";
  auto started = startProcess(spec);
  ASSERT_FALSE(started.isOk());
  EXPECT_NE(started.status().message().find("/nonexistent/petrel-cgroup/cgroup.procs"),
            std::string::npos)
      << started.status().message();
  auto ran = runProcess(spec);
  ASSERT_FALSE(ran.isOk());
  EXPECT_NE(ran.status().message().find("cgroup"), std::string::npos);
}

// A real cgroup under the machine's cgroup2 mount, removed at the end.
class SandboxCgroupLive : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string mount = cgroup2MountFromMounts(slurp("/proc/self/mounts"));
    ASSERT_EQ(geteuid(), 0u) << "this test creates a real cgroup and needs root: run the tests as "
                                "root (scripts/test.sh does)";
    ASSERT_FALSE(mount.empty()) << "no cgroup2 is mounted: mount one (mount -t cgroup2 none DIR)";
    relative_ = "/petrel-unit-" + std::to_string(getpid()) + "/node-1";
    dir_ = mount + relative_;
    ASSERT_TRUE(createCgroup(dir_).isOk());
  }
  void TearDown() override {
    for (pid_t pid : cgroupPids(fs::path(dir_).parent_path().string())) kill(pid, SIGKILL);
    if (!dir_.empty()) {
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      EXPECT_TRUE(removeCgroupTree(fs::path(dir_).parent_path().string()).isOk());
      EXPECT_FALSE(fs::exists(fs::path(dir_).parent_path()));
    }
  }
  std::string relative_;  // as /proc/<pid>/cgroup shows it
  std::string dir_;
};

TEST_F(SandboxCgroupLive, StartedAndRunProcessesAreInTheCgroupFromTheStart) {
  ProcessSpec spec;
  spec.argv = {"sleep", "30"};
  spec.cgroup_dir = dir_;
  auto pid = startProcess(spec);
  ASSERT_TRUE(pid.isOk()) << pid.status().toString();
  // startProcess returns after exec: the process is already in the cgroup.
  EXPECT_EQ(cgroup2PathFromProcCgroup(slurp("/proc/" + std::to_string(*pid) + "/cgroup")),
            relative_);
  auto pids = cgroupPids(fs::path(dir_).parent_path().string());
  EXPECT_NE(std::find(pids.begin(), pids.end(), *pid), pids.end());
  // A cgroup that holds a process cannot go; after the kill it can.
  kill(*pid, SIGKILL);
  waitpid(*pid, nullptr, 0);

  spec.argv = {"cat", "/proc/self/cgroup"};
  auto ran = runProcess(spec);
  ASSERT_TRUE(ran.isOk() && ran->ok()) << (ran.isOk() ? ran->err : ran.status().toString());
  EXPECT_EQ(cgroup2PathFromProcCgroup(ran->out), relative_);
}

}  // namespace
}  // namespace petrel::sandbox
