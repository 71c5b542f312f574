// End-to-end: cluster-wide identity allocation against the real kube-apiserver (`up --nodes 0`,
// with Petrel's CRDs). Agents (petrel-test-identity runs the agent's allocator) allocating the
// same security labels at once agree on one number and make one PetrelIdentity; labels whose
// first number another set holds get the next one, also when both allocate at once. Needs root,
// kubectl and build/bin/petrel-{sandbox,k8s,test-identity}.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/core/identity_allocation.h"
#include "maps.h"
#include "test/e2e/control_plane_fixture.h"
#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

using nlohmann::json;

class IdentityE2e : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireFile(binDir() / "petrel-test-identity",
                            "build it with: ninja -C build petrel-test-identity"));
    ASSERT_NO_FATAL_FAILURE(startControlPlane("pe2e-ident"));
  }
  // `count` allocators of pods labelled app=<app> in `ns`, all started before any is waited for;
  // the numbers they printed, in start order (0 for one that failed, with its output logged).
  std::vector<uint32_t> allocateAtOnce(const std::vector<std::string>& apps,
                                       const std::string& ns) {
    std::vector<std::unique_ptr<BackgroundProcess>> runs;
    for (size_t i = 0; i < apps.size(); ++i) {
      runs.push_back(std::make_unique<BackgroundProcess>(
          std::vector<std::string>{(binDir() / "petrel-test-identity").string(), "--kubeconfig",
                                   kubeconfig().string(), "--namespace", ns, "--label",
                                   "app=" + apps[i]},
          *dir_ / ("alloc-" + std::to_string(i) + ".log")));
    }
    std::vector<uint32_t> out;
    for (auto& r : runs) {
      auto status = r->wait(30s);
      const std::string log = r->log();
      json j = json::parse(log.substr(0, log.find('\n')), nullptr, false);
      const bool ok = status == 0 && j.is_object() && j.contains("identity");
      EXPECT_TRUE(ok) << "allocator: " << log;
      out.push_back(ok ? j["identity"].get<uint32_t>() : 0);
    }
    return out;
  }
  // name -> securityLabels of every PetrelIdentity.
  std::map<std::string, json> identities() {
    std::map<std::string, json> out;
    json list = get({"get", "petrelidentities"});
    for (const auto& item : list.value("items", json::array())) {
      out[item["metadata"]["name"]] = item["securityLabels"];
    }
    return out;
  }
};

TEST_F(IdentityE2e, AgentsAllocatingTheSameLabelsAtOnceAgreeOnOneNumber) {
  const auto numbers = allocateAtOnce({"web", "web", "web", "web", "web", "web"}, "shop");
  ASSERT_EQ(numbers.size(), 6u);
  EXPECT_EQ(std::set<uint32_t>(numbers.begin(), numbers.end()).size(), 1u)
      << ::testing::PrintToString(numbers);
  const auto all = identities();
  ASSERT_EQ(all.size(), 1u) << json(all).dump(1);
  const auto& [name, labels] = *all.begin();
  EXPECT_EQ(name, std::to_string(numbers.front()));
  EXPECT_EQ(labels, json({{"k8s:app", "web"},
                          {"petrel:namespace", "shop"},
                          {"petrel:serviceaccount", "default"}}));
  // A later allocation finds it and makes nothing new.
  EXPECT_EQ(allocateAtOnce({"web"}, "shop"), std::vector<uint32_t>{numbers.front()});
  EXPECT_EQ(identities().size(), 1u);
}

TEST_F(IdentityE2e, TwoLabelSetsAfterTheSameFirstNumberBothGetOne) {
  // Two apps whose label sets start at the same number (found by search: the same hash range).
  std::map<uint32_t, std::string> first_of;
  std::string a, b;
  for (int i = 0; b.empty(); ++i) {
    const std::string app = "app" + std::to_string(i);
    const uint32_t n = core::identityCandidate(
        core::canonicalKey(core::securityLabels({{"app", app}}, "shop", {}, "")), 0);
    if (auto it = first_of.find(n); it != first_of.end()) {
      a = it->second;
      b = app;
    }
    first_of[n] = app;
  }
  const uint32_t first = core::identityCandidate(
      core::canonicalKey(core::securityLabels({{"app", a}}, "shop", {}, "")), 0);
  const auto numbers = allocateAtOnce({a, b, a, b}, "shop");
  ASSERT_EQ(numbers.size(), 4u);
  EXPECT_EQ(numbers[0], numbers[2]);
  EXPECT_EQ(numbers[1], numbers[3]);
  EXPECT_NE(numbers[0], numbers[1]);
  // One of them got the shared first number, the other its successor.
  EXPECT_EQ(std::set<uint32_t>({numbers[0], numbers[1]}),
            std::set<uint32_t>({first, first == PETREL_IDENTITY_CLUSTER_MAX
                                           ? uint32_t{PETREL_IDENTITY_CLUSTER_MIN}
                                           : first + 1}));
  EXPECT_EQ(identities().size(), 2u) << json(identities()).dump(1);
}

}  // namespace
}  // namespace petrel::e2e
