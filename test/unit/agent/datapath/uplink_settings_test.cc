// The uplink programs' settings and the flow timeouts: the timeouts are the README's (6 h
// answered, 2 min half-closed, 60 s unanswered, 10 s closing, 60 s UDP/ICMP), and writeNatConfig
// puts every setting where the programs read it, in network order where they compare packets.
#include <arpa/inet.h>

#include <cstring>

#include <gtest/gtest.h>

#include "agent/datapath/flow_timeouts.h"
#include "agent/datapath/uplink.h"

namespace petrel::datapath {
namespace {

constexpr uint64_t kSecond = 1000000000ull;

TEST(FlowTimeouts, AreTheDocumentedOnes) {
  const FlowTimeouts t;
  EXPECT_EQ(t.tcp_established_ns, 6 * 3600 * kSecond);
  EXPECT_EQ(t.tcp_half_closed_ns, 120 * kSecond);
  EXPECT_EQ(t.tcp_unanswered_ns, 60 * kSecond);
  EXPECT_EQ(t.tcp_closing_ns, 10 * kSecond);
  EXPECT_EQ(t.other_ns, 60 * kSecond);
}

TEST(UplinkSettings, WriteNatConfigFillsEveryField) {
  nat_config c{};
  std::memset(&c, 0xff, sizeof(c));  // whatever was there before
  UplinkSettings s;
  s.node_ip = *Ipv4Addr::parse("192.168.1.5");
  s.pod_cidr = *Ipv4Cidr::parse("10.244.3.0/24");
  s.masquerade = true;
  s.ports = {62000, 62999};
  s.tunnel_port = 8472;
  writeNatConfig(c, s);
  EXPECT_EQ(c.node_ip4, inet_addr("192.168.1.5"));
  EXPECT_EQ(c.pod_net4, inet_addr("10.244.3.0"));
  EXPECT_EQ(c.pod_mask4, inet_addr("255.255.255.0"));
  EXPECT_EQ(c.port_min, 62000);
  EXPECT_EQ(c.port_max, 62999);
  EXPECT_EQ(c.masquerade, 1u);
  EXPECT_EQ(c.tunnel_port, htons(8472));
  // The programs take over an idle flow's port after the collector's timeouts, not others.
  const FlowTimeouts t;
  EXPECT_EQ(c.tcp_timeout_ns, t.tcp_established_ns);
  EXPECT_EQ(c.closing_timeout_ns, t.tcp_closing_ns);
  EXPECT_EQ(c.udp_timeout_ns, t.other_ns);

  UplinkSettings defaults;  // no masquerading, no tunnel, the default ports
  defaults.node_ip = *Ipv4Addr::parse("192.168.1.5");
  writeNatConfig(c, defaults);
  EXPECT_EQ(c.masquerade, 0u);
  EXPECT_EQ(c.pod_mask4, 0u);
  EXPECT_EQ(c.tunnel_port, 0);
  EXPECT_EQ(c.port_min, kDefaultMasqueradePorts.min);
  EXPECT_EQ(c.port_max, kDefaultMasqueradePorts.max);
}

}  // namespace
}  // namespace petrel::datapath
