// Container mounts are ordered parents first, judged by their targets with symlinks resolved.
#include "tools/sandbox/kubelet/container_launch.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace petrel::sandbox {
namespace {

TEST(ContainerLaunch, MountsUnderAnotherComeAfterItEvenThroughASymlink) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("petrel-launch-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "run");
  std::filesystem::create_directories(dir / "var");
  std::filesystem::create_symlink(dir / "run", dir / "var" / "run");  // as /var/run -> /run
  const std::string d = dir.string();
  std::vector<BindMount> mounts = {{"/a", d + "/run/petrel/cgroupv2", false},
                                   {"/b", d + "/sys/fs/bpf", false},
                                   {"/c", d + "/var/run/petrel", false},
                                   {"/d", d + "/etc/resolv.conf", false}};
  sortParentsFirst(mounts);
  std::filesystem::remove_all(dir);
  std::vector<std::string> order;
  for (const auto& m : mounts) order.push_back(m.source);
  // var/run/petrel is run/petrel: one level above run/petrel/cgroupv2; equal depths keep order.
  EXPECT_EQ(order, (std::vector<std::string>{"/c", "/d", "/a", "/b"}));
}

}  // namespace
}  // namespace petrel::sandbox
