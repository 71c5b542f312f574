// HostPathMap: parsing NODE_PATH=HOST_PATH, longest-prefix resolution, the bind list.
#include "tools/sandbox/kubelet/host_path_map.h"

#include <gtest/gtest.h>

namespace petrel::sandbox {
namespace {

TEST(HostPathMap, ResolvesThroughTheLongestMatchingNodePath) {
  auto map = HostPathMap::parse({"/var/run/petrel=/state/node-1/run",
                                 "/sys/fs/bpf=/sys/fs/bpf/petrel-x/node-1",
                                 "/sys/fs/bpf/petrel=/elsewhere/"});
  ASSERT_TRUE(map) << map.status().message();
  EXPECT_EQ(map->resolve("/var/run/petrel"), "/state/node-1/run");
  EXPECT_EQ(map->resolve("/var/run/petrel/"), "/state/node-1/run");
  EXPECT_EQ(map->resolve("/var/run/petrel/petrel.sock"), "/state/node-1/run/petrel.sock");
  EXPECT_EQ(map->resolve("/sys/fs/bpf/tc"), "/sys/fs/bpf/petrel-x/node-1/tc");
  EXPECT_EQ(map->resolve("/sys/fs/bpf/petrel/maps"), "/elsewhere/maps");
  // Only whole path components match; other paths are this machine's own.
  EXPECT_EQ(map->resolve("/var/run/petrelx"), "/var/run/petrelx");
  EXPECT_EQ(map->resolve("/etc/hosts"), "/etc/hosts");
}

TEST(HostPathMap, BindsEveryHostPathAtItsNodePath) {
  auto map = HostPathMap::parse({"/etc/cni/net.d=/n1/net.d", "/opt/cni/bin=/n1/bin"});
  ASSERT_TRUE(map);
  auto binds = map->binds();
  ASSERT_EQ(binds.size(), 2u);
  EXPECT_EQ(binds[0].source, "/n1/net.d");
  EXPECT_EQ(binds[0].target, "/etc/cni/net.d");
  EXPECT_FALSE(binds[0].read_only);
  EXPECT_EQ(binds[1].source, "/n1/bin");
  EXPECT_EQ(binds[1].target, "/opt/cni/bin");
}

TEST(HostPathMap, RefusesSpecsThatAreNotTwoAbsolutePaths) {
  for (const char* bad : {"/a", "a=/b", "/a=b", "=/b", "/a="}) {
    auto map = HostPathMap::parse({bad});
    ASSERT_FALSE(map) << bad;
    EXPECT_NE(map.status().message().find(bad), std::string::npos) << map.status().message();
  }
  EXPECT_TRUE(HostPathMap::parse({}));
}

}  // namespace
}  // namespace petrel::sandbox
