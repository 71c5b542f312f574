// LbState's kinds: core::LbKind carries the values the BPF programs compare the master entry's
// kind with (enum lb_kind), and every kind has the name `petrel service list` prints.
#include <gtest/gtest.h>

#include "agent/core/lb_state.h"
#include "maps.h"

namespace petrel::core {
namespace {

TEST(LbKind, ValuesAreTheMapsAndNamesAreKubernetes) {
  // The programs test master.kind against these (service_xlate.h: NodePort goes to the stack,
  // ClusterIP is not served from outside).
  EXPECT_EQ(static_cast<uint8_t>(LbKind::kClusterIp), LB_KIND_CLUSTER_IP);
  EXPECT_EQ(static_cast<uint8_t>(LbKind::kNodePort), LB_KIND_NODE_PORT);
  EXPECT_EQ(static_cast<uint8_t>(LbKind::kExternalIp), LB_KIND_EXTERNAL_IP);
  EXPECT_EQ(static_cast<uint8_t>(LbKind::kLoadBalancer), LB_KIND_LOAD_BALANCER);
  EXPECT_STREQ(lbKindName(LbKind::kClusterIp), "ClusterIP");
  EXPECT_STREQ(lbKindName(LbKind::kNodePort), "NodePort");
  EXPECT_STREQ(lbKindName(LbKind::kExternalIp), "ExternalIP");
  EXPECT_STREQ(lbKindName(LbKind::kLoadBalancer), "LoadBalancer");
  // A master entry read back from the maps may hold anything.
  EXPECT_STREQ(lbKindName(static_cast<LbKind>(0)), "?");
  EXPECT_STREQ(lbKindName(static_cast<LbKind>(9)), "?");
}

}  // namespace
}  // namespace petrel::core
