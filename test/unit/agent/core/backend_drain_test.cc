// Which removed backends keep their connections: graceful termination as Kubernetes defines it.
#include "agent/core/backend_drain.h"

#include <gtest/gtest.h>

namespace petrel::core {
namespace {

const EndpointAddr kA{0x0af40101, 9000};  // 10.244.1.1:9000
const EndpointAddr kB{0x0af40202, 9000};

TEST(BackendDrain, AServingTerminatingBackendDrainsAndIsResetOnceItsEndpointIsGone) {
  BackendDrain drain;
  EXPECT_EQ(drain.removed(kA, true), BackendDrain::Verdict::kDrainStarted);
  EXPECT_EQ(drain.removed(kA, true), BackendDrain::Verdict::kDrain) << "told once";
  EXPECT_EQ(drain.draining(), (std::set<EndpointAddr>{kA}));
  // Still serving terminating: nothing to reset.
  EXPECT_TRUE(drain.finished([](EndpointAddr) { return true; }).empty());
  // Its endpoint went from the slices: reset, once.
  EXPECT_EQ(drain.finished([](EndpointAddr) { return false; }), std::vector<EndpointAddr>{kA});
  EXPECT_TRUE(drain.finished([](EndpointAddr) { return false; }).empty());
  EXPECT_TRUE(drain.draining().empty());
}

TEST(BackendDrain, AnyOtherRemovedBackendIsResetAtOnce) {
  BackendDrain drain;
  EXPECT_EQ(drain.removed(kB, false), BackendDrain::Verdict::kReset);
  EXPECT_TRUE(drain.draining().empty());
  // A draining backend removed for good (no longer serving terminating) is reset, not again later.
  drain.removed(kA, true);
  EXPECT_EQ(drain.removed(kA, false), BackendDrain::Verdict::kReset);
  EXPECT_TRUE(drain.finished([](EndpointAddr) { return false; }).empty());
}

TEST(BackendDrain, SeededEndpointsDrainAcrossAnAgentRestart) {
  // A restarted agent never saw the removal; the slices still list the endpoint as serving and
  // terminating, so it drains, and its clients are reset once the endpoint goes.
  BackendDrain drain;
  drain.seed({kA, kB});
  auto reset = drain.finished([](EndpointAddr e) { return e == kA; });
  EXPECT_EQ(reset, std::vector<EndpointAddr>{kB});
  EXPECT_EQ(drain.draining(), (std::set<EndpointAddr>{kA}));
}

}  // namespace
}  // namespace petrel::core
