// Unit tests for the Node/PetrelNode -> tunnel routes translation.
#include "agent/core/tunnel_peers.h"

#include <gtest/gtest.h>

namespace petrel::core {
using namespace petrel::k8s;  // the typed objects these tests build
namespace {

PetrelNode petrelNode(const std::string& name, const std::string& cidr, const std::string& ip) {
  PetrelNode n;
  n.meta.name = name;
  if (!cidr.empty()) n.pod_cidrs.push_back(*Ipv4Cidr::parse(cidr));
  if (!ip.empty()) n.internal_ips.push_back(*Ipv4Addr::parse(ip));
  return n;
}

Node node(const std::string& name, const std::string& cidr, const std::string& ip) {
  Node n;
  n.meta.name = name;
  n.pod_cidrs.push_back(cidr);
  n.internal_ips.push_back(*Ipv4Addr::parse(ip));
  return n;
}

TEST(TunnelPeersTest, EveryOtherNodesCidrViaItsInternalIp) {
  auto routes = tunnelRoutes({petrelNode("a", "10.244.1.0/24", "192.168.0.1"),
                              petrelNode("b", "10.244.2.0/24", "192.168.0.2"),
                              petrelNode("c", "10.244.3.0/24", "192.168.0.3")},
                             {}, "a");
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes.at(*Ipv4Cidr::parse("10.244.2.0/24")).node_ip.toString(), "192.168.0.2");
  EXPECT_EQ(routes.at(*Ipv4Cidr::parse("10.244.3.0/24")).node, "c");
  EXPECT_FALSE(routes.count(*Ipv4Cidr::parse("10.244.1.0/24")));  // our own
}

TEST(TunnelPeersTest, NodeObjectsFillInForNodesWithoutAPetrelNode) {
  auto routes = tunnelRoutes({petrelNode("b", "10.244.2.0/24", "192.168.0.2")},
                             {node("b", "10.99.0.0/24", "192.168.0.2"),  // PetrelNode wins
                              node("c", "10.244.3.0/24", "192.168.0.3")},
                             "a");
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_TRUE(routes.count(*Ipv4Cidr::parse("10.244.2.0/24")));
  EXPECT_TRUE(routes.count(*Ipv4Cidr::parse("10.244.3.0/24")));
  EXPECT_FALSE(routes.count(*Ipv4Cidr::parse("10.99.0.0/24")));
}

TEST(TunnelPeersTest, NodesWithoutAddressOrCidrAreSkippedAndClashesKeepTheFirst) {
  auto routes = tunnelRoutes({petrelNode("b", "10.244.2.0/24", ""),  // no InternalIP yet
                              petrelNode("c", "", "192.168.0.3"),    // no CIDR allocated yet
                              petrelNode("d", "10.244.4.0/24", "192.168.0.4"),
                              petrelNode("e", "10.244.4.0/24", "192.168.0.5")},
                             {}, "a");
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes.begin()->second.node, "d");
}

}  // namespace
}  // namespace petrel::core
