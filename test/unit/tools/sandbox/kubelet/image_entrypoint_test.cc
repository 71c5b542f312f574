// ImageEntrypoints: image repositories, --image-entrypoint parsing and which argv a container
// gets with and without a mapping, a command and args.
#include <gtest/gtest.h>

#include "tools/sandbox/kubelet/image_entrypoint.h"

namespace petrel::sandbox {
namespace {

using Argv = std::vector<std::string>;

TEST(KubeletImageEntrypoint, Repository) {
  EXPECT_EQ(imageRepository("registry.k8s.io/coredns/coredns:v1.15.0"),
            "registry.k8s.io/coredns/coredns");
  EXPECT_EQ(imageRepository("registry.k8s.io/coredns/coredns@sha256:abc"),
            "registry.k8s.io/coredns/coredns");
  EXPECT_EQ(imageRepository("registry.k8s.io/coredns/coredns:v1@sha256:abc"),
            "registry.k8s.io/coredns/coredns");
  EXPECT_EQ(imageRepository("localhost:5000/petrel/agent"), "localhost:5000/petrel/agent")
      << "a registry port is not a tag";
  EXPECT_EQ(imageRepository("localhost:5000/petrel/agent:dev"), "localhost:5000/petrel/agent");
  EXPECT_EQ(imageRepository("busybox"), "busybox");
  EXPECT_EQ(imageRepository("busybox:1.36"), "busybox");
}

TEST(KubeletImageEntrypoint, ParsesFlags) {
  ImageEntrypoints images;
  ASSERT_TRUE(images.add("registry.k8s.io/coredns/coredns=/opt/bin/petrel-k8s  coredns").isOk());
  EXPECT_EQ(images.entries().at("registry.k8s.io/coredns/coredns"),
            (Argv{"/opt/bin/petrel-k8s", "coredns"}));
  for (const char* bad : {"no-equals", "=argv", "repo=", "repo:tag=x"}) {
    Status s = images.add(bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find(bad), std::string::npos) << s.message();
  }
}

TEST(KubeletImageEntrypoint, WhatAContainerRuns) {
  ImageEntrypoints images;
  ASSERT_TRUE(images.add("registry.k8s.io/coredns/coredns=petrel-k8s coredns").isOk());
  ContainerSpec c;
  c.image = "registry.k8s.io/coredns/coredns:v1.15.0";
  EXPECT_EQ(images.argv(c), (Argv{"petrel-k8s", "coredns"})) << "the entrypoint alone";
  c.args = {"-conf", "/etc/coredns/Corefile"};
  EXPECT_EQ(images.argv(c), (Argv{"petrel-k8s", "coredns", "-conf", "/etc/coredns/Corefile"}));
  c.command = {"sh", "-c"};
  EXPECT_EQ(images.argv(c), (Argv{"sh", "-c", "-conf", "/etc/coredns/Corefile"}))
      << "a command replaces the entrypoint";
  ContainerSpec other;
  other.image = "docker.io/library/nginx:1.27";
  EXPECT_EQ(images.argv(other), (Argv{"petrel-workload"})) << "unmapped, nothing given";
  other.args = {"sleep", "5"};
  EXPECT_EQ(images.argv(other), (Argv{"sleep", "5"})) << "unmapped: the args are the command";
}

}  // namespace
}  // namespace petrel::sandbox
