// podResolvConf: the file each dnsPolicy gives, with and without hostNetwork, a cluster DNS and
// a dnsConfig.
#include <gtest/gtest.h>

#include "tools/sandbox/kubelet/resolv_conf.h"

namespace petrel::sandbox {
namespace {

const ClusterDns kDns{"10.96.0.10", "cluster.local"};
const std::string kNode =
    "# from the node\nnameserver 127.0.0.53\nsearch corp.example\noptions edns0\n";

PodSpec pod(const std::string& policy, bool host_network = false) {
  PodSpec p;
  p.namespace_ = "shop";
  p.name = "web";
  p.dns_policy = policy;
  p.host_network = host_network;
  return p;
}

TEST(KubeletResolvConf, ClusterFirst) {
  EXPECT_EQ(podResolvConf(pod("ClusterFirst"), kDns, kNode),
            "search shop.svc.cluster.local svc.cluster.local cluster.local\n"
            "nameserver 10.96.0.10\n"
            "options ndots:5\n");
}

TEST(KubeletResolvConf, ClusterFirstWithHostNetworkIsTheNodes) {
  EXPECT_EQ(podResolvConf(pod("ClusterFirst", true), kDns, kNode), std::nullopt);
}

TEST(KubeletResolvConf, ClusterFirstWithHostNet) {
  auto text = podResolvConf(pod("ClusterFirstWithHostNet", true), kDns, kNode);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text,
            "search shop.svc.cluster.local svc.cluster.local cluster.local\n"
            "nameserver 10.96.0.10\n"
            "options ndots:5\n");
}

TEST(KubeletResolvConf, DefaultIsTheNodesUnchanged) {
  EXPECT_EQ(podResolvConf(pod("Default"), kDns, kNode), std::nullopt);
}

TEST(KubeletResolvConf, NoClusterDnsLeavesTheNodesFile) {
  EXPECT_EQ(podResolvConf(pod("ClusterFirst"), ClusterDns{"", "cluster.local"}, kNode),
            std::nullopt);
}

TEST(KubeletResolvConf, OtherDomain) {
  EXPECT_EQ(podResolvConf(pod("ClusterFirst"), ClusterDns{"10.0.0.10", "k8s.test"}, kNode),
            "search shop.svc.k8s.test svc.k8s.test k8s.test\n"
            "nameserver 10.0.0.10\n"
            "options ndots:5\n");
}

TEST(KubeletResolvConf, DnsConfigIsMergedIn) {
  PodSpec p = pod("ClusterFirst");
  p.dns_config.nameservers = {"1.1.1.1", "10.96.0.10"};
  p.dns_config.searches = {"extra.example"};
  p.dns_config.options = {{"ndots", "2"}, {"edns0", std::nullopt}};
  EXPECT_EQ(podResolvConf(p, kDns, kNode),
            "search shop.svc.cluster.local svc.cluster.local cluster.local extra.example\n"
            "nameserver 10.96.0.10\n"
            "nameserver 1.1.1.1\n"
            "options ndots:2 edns0\n");
}

TEST(KubeletResolvConf, DefaultWithDnsConfigStartsFromTheNodes) {
  PodSpec p = pod("Default");
  p.dns_config.nameservers = {"9.9.9.9"};
  p.dns_config.options = {{"timeout", "1"}};
  EXPECT_EQ(podResolvConf(p, kDns, kNode),
            "search corp.example\n"
            "nameserver 127.0.0.53\n"
            "nameserver 9.9.9.9\n"
            "options edns0 timeout:1\n");
}

TEST(KubeletResolvConf, NoneIsOnlyTheDnsConfig) {
  PodSpec p = pod("None");
  p.dns_config.nameservers = {"9.9.9.9"};
  p.dns_config.searches = {"a.example", "b.example"};
  EXPECT_EQ(podResolvConf(p, kDns, kNode),
            "search a.example b.example\n"
            "nameserver 9.9.9.9\n");
}

}  // namespace
}  // namespace petrel::sandbox
