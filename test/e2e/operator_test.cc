// End-to-end: two petrel-operator replicas against the sandbox's real control plane (`up
// --nodes 0`), Nodes made with the real kubectl. Checks the CRD install, one Lease holder and
// only it allocating, a distinct /24 from the pool for every Node recorded in its PetrelNode (with
// the Node's InternalIP), address updates, takeover after SIGKILL of the leader once the lease
// expires, release of a deleted Node's CIDR and its reuse, and unchanged allocations across a
// restart of every replica. Bad flags are refused with a clear message. Needs root, kubectl and
// build/bin/petrel-{sandbox,k8s,operator}.
#include <signal.h>

#include <map>
#include <set>
#include <thread>

#include "test/e2e/control_plane_fixture.h"
#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

using nlohmann::json;

constexpr const char* kPool = "10.244.0.0/16";

class OperatorE2e : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        requireFile(binDir() / "petrel-operator", "build it with: ninja -C build petrel-operator"));
    ASSERT_NO_FATAL_FAILURE(startControlPlane("pe2e-op"));
  }
  void TearDown() override {
    operators_.clear();
    ControlPlaneTest::TearDown();
  }

  // Starts a replica with a short lease (3 s) so takeover is quick; returns its identity. It logs
  // each allocation pass (-v: debug).
  std::string startOperator(const std::string& pool = kPool) {
    std::string id = uniqueName("op");
    operators_[id] = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{(binDir() / "petrel-operator").string(),
                                 "--kubeconfig",
                                 kubeconfig().string(),
                                 "--cluster-pool-cidr",
                                 pool,
                                 "--node-cidr-mask",
                                 "24",
                                 "--identity",
                                 id,
                                 "--lease-name",
                                 lease_,
                                 "--lease-duration",
                                 "3",
                                 "--renew-deadline",
                                 "2",
                                 "--retry-period",
                                 "1",
                                 "--resync",
                                 "2",
                                 "-v"},
        *dir_ / (id + ".log"));
    return id;
  }
  std::string log(const std::string& id) const { return operators_.at(id)->log(); }
  std::string allLogs() const {
    std::string out;
    for (const auto& [id, p] : operators_) out += "--- " + id + "\n" + p->log();
    return out;
  }

  void createNode(const std::string& name, const std::string& ip) {
    json n = {{"apiVersion", "v1"},
              {"kind", "Node"},
              {"metadata", {{"name", name}}},
              {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", ip}}}}}}};
    must({"create", "-f", "-"}, n.dump());
  }
  std::string holder() {
    json l = get({"get", "lease", "-n", "kube-system", lease_});
    if (!l.is_object()) return "";
    return l["spec"].value("holderIdentity", "");
  }
  // node -> {pod CIDR, first InternalIP} from the PetrelNodes.
  std::map<std::string, std::pair<std::string, std::string>> allocations() {
    std::map<std::string, std::pair<std::string, std::string>> out;
    json l = get({"get", "petrelnodes"});
    if (!l.is_object() || !l["items"].is_array()) return out;
    for (const auto& p : l["items"]) {
      const json& spec = p.value("spec", json::object());
      json cidrs = spec.value("ipam", json::object()).value("podCIDRs", json::array());
      json addrs = spec.value("addresses", json::array());
      out[p["metadata"].value("name", "")] = {cidrs.empty() ? "" : cidrs[0].get<std::string>(),
                                              addrs.empty() ? "" : addrs[0].value("ip", "")};
    }
    return out;
  }
  // Waits until exactly `nodes` have PetrelNodes with a CIDR; returns them.
  std::map<std::string, std::pair<std::string, std::string>> waitForAllocations(
      const std::set<std::string>& nodes) {
    std::map<std::string, std::pair<std::string, std::string>> got;
    bool ok = waitUntil(
        [&] {
          got = allocations();
          std::set<std::string> names;
          for (const auto& [n, a] : got) {
            if (!a.first.empty()) names.insert(n);
          }
          return names == nodes && got.size() == nodes.size();
        },
        15s, 200ms);
    EXPECT_TRUE(ok) << "PetrelNodes: " << ::testing::PrintToString(got) << "\n" << allLogs();
    return got;
  }
  static void expectDistinctFromPool(
      const std::map<std::string, std::pair<std::string, std::string>>& got) {
    std::set<std::string> seen;
    for (const auto& [node, a] : got) {
      EXPECT_TRUE(seen.insert(a.first).second) << a.first << " given twice";
      EXPECT_TRUE(a.first.rfind("10.244.", 0) == 0 || a.first.rfind("10.250.", 0) == 0)
          << node << ": " << a.first;
      EXPECT_EQ(a.first.substr(a.first.size() - 3), "/24") << node << ": " << a.first;
    }
  }
  static size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  std::map<std::string, std::unique_ptr<BackgroundProcess>> operators_;
  std::string lease_ = uniqueName("petrel-operator");
};

TEST_F(OperatorE2e, AllocatesDistinctCidrsWithOneLeaderThroughFailoverDeleteAndRestart) {
  std::string a = startOperator();
  std::string b = startOperator();
  std::string leader;
  ASSERT_TRUE(waitUntil(
      [&] {
        leader = holder();
        return !leader.empty();
      },
      10s, 200ms))
      << allLogs();
  ASSERT_TRUE(leader == a || leader == b) << leader;
  const std::string follower = leader == a ? b : a;
  ASSERT_TRUE(waitUntil(
      [&] { return log(leader).find("installed Petrel's CRDs") != std::string::npos; }, 10s))
      << allLogs();
  EXPECT_TRUE(kubectl({"get", "crd", "petrelnodes.petrel.io"}).ok());

  for (int i = 1; i <= 4; ++i)
    createNode("n" + std::to_string(i), "192.168.70." + std::to_string(i));
  auto got = waitForAllocations({"n1", "n2", "n3", "n4"});
  expectDistinctFromPool(got);
  EXPECT_EQ(got["n3"].second, "192.168.70.3");
  EXPECT_EQ(holder(), leader);
  EXPECT_EQ(count(log(leader), "allocated 10.244."), 4u) << log(leader);
  EXPECT_EQ(log(follower).find("allocated"), std::string::npos) << log(follower);
  EXPECT_EQ(log(follower).find("became the leader"), std::string::npos) << log(follower);

  // A changed InternalIP reaches the PetrelNode; the CIDR stays.
  must({"patch", "node", "n1", "--subresource=status", "--type=merge", "-p",
        R"({"status":{"addresses":[{"type":"InternalIP","address":"192.168.71.1"}]}})"});
  ASSERT_TRUE(waitUntil([&] { return allocations()["n1"].second == "192.168.71.1"; }, 10s, 200ms))
      << allLogs();
  EXPECT_EQ(allocations()["n1"].first, got["n1"].first);

  // The leader dies without releasing: the follower takes over once the 3 s lease expires.
  auto killed = operators_[leader]->signalAndWait(SIGKILL, 2000ms);
  ASSERT_TRUE(killed.has_value());
  auto killedAt = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitUntil([&] { return holder() == follower; }, 10s, 200ms)) << allLogs();
  // Not before expiry: the last renewal was at most a retry period (1 s) before the kill.
  EXPECT_GE(std::chrono::steady_clock::now() - killedAt, 1500ms);
  createNode("n5", "192.168.70.5");
  got = waitForAllocations({"n1", "n2", "n3", "n4", "n5"});
  expectDistinctFromPool(got);
  EXPECT_EQ(count(log(follower), "allocated 10.244."), 1u) << log(follower);

  // A deleted Node's PetrelNode goes and its CIDR is the next one given out.
  const std::string freed = got["n2"].first;
  must({"delete", "node", "n2"});
  got = waitForAllocations({"n1", "n3", "n4", "n5"});
  EXPECT_NE(log(follower).find("released " + freed + " of deleted node n2"), std::string::npos)
      << log(follower);
  createNode("n6", "192.168.70.6");
  got = waitForAllocations({"n1", "n3", "n4", "n5", "n6"});
  expectDistinctFromPool(got);
  EXPECT_EQ(got["n6"].first, freed);

  // Restart every replica: a graceful stop releases the lease, the new pair keeps everything.
  auto stopped = operators_[follower]->signalAndWait(SIGTERM, 3000ms);
  ASSERT_TRUE(stopped.has_value()) << "SIGTERM did not stop the operator";
  EXPECT_EQ(*stopped, 0);
  EXPECT_NE(log(follower).find("released the lease"), std::string::npos) << log(follower);
  EXPECT_EQ(holder(), "");
  std::string c = startOperator();
  std::string d = startOperator();
  std::string next;
  ASSERT_TRUE(waitUntil(
      [&] {
        next = holder();
        return next == c || next == d;
      },
      10s, 200ms))
      << allLogs();
  // The new leader's first pass and two resync passes.
  ASSERT_TRUE(waitUntil(
      [&] { return log(next).find("installed Petrel's CRDs") != std::string::npos; }, 10s));
  ASSERT_TRUE(waitUntil([&] { return count(log(next), " node CIDRs used, ") >= 3; }, 15s, 200ms))
      << log(next);
  EXPECT_EQ(allocations(), got);
  EXPECT_EQ(log(c).find("allocated"), std::string::npos) << log(c);
  EXPECT_EQ(log(d).find("allocated"), std::string::npos) << log(d);
  EXPECT_EQ(holder(), next);
}

TEST_F(OperatorE2e, ExhaustedPoolLogsTheNodeAndServesItOnceACidrIsFree) {
  std::string op = startOperator("10.250.0.0/23");  // two /24s
  for (int i = 1; i <= 3; ++i)
    createNode("x" + std::to_string(i), "192.168.72." + std::to_string(i));
  auto got = waitForAllocations({"x1", "x2"});
  expectDistinctFromPool(got);
  ASSERT_TRUE(waitUntil(
      [&] {
        return log(op).find("node x3: no pod CIDR: the cluster pool 10.250.0.0/23 is exhausted") !=
               std::string::npos;
      },
      10s))
      << log(op);
  EXPECT_EQ(count(log(op), "node x3: no pod CIDR"), 1u) << "logged once, not every pass";
  const std::string freed = got["x1"].first;
  must({"delete", "node", "x1"});
  got = waitForAllocations({"x2", "x3"});
  EXPECT_EQ(got["x3"].first, freed);
}

TEST(OperatorFlags, RefusesABadPoolOrMask) {
  ASSERT_TRUE(
      requireFile(binDir() / "petrel-operator", "build it with: ninja -C build petrel-operator"));
  const std::string bin = (binDir() / "petrel-operator").string();
  RunOptions quick;
  quick.timeout = 10s;
  RunOptions noCluster = quick;
  noCluster.env = {{"KUBERNETES_SERVICE_HOST", ""}};
  CmdResult r = run({bin, "--kubeconfig", "/nonexistent", "--cluster-pool-cidr", "10.244.0.0/16",
                     "--node-cidr-mask", "16"},
                    quick);
  EXPECT_EQ(r.exitCode, 2) << r.describe();
  EXPECT_NE(r.err.find("must be longer than the pool's /16"), std::string::npos) << r.err;
  r = run({bin, "--kubeconfig", "/nonexistent", "--cluster-pool-cidr", "fd00::/48"}, quick);
  EXPECT_EQ(r.exitCode, 2) << r.describe();
  EXPECT_NE(r.err.find("only IPv4"), std::string::npos) << r.err;
  r = run({bin, "--kubeconfig", "/nonexistent", "--cluster-pool-cidr", kPool, "--lease-duration",
           "5", "--renew-deadline", "5"},
          quick);
  EXPECT_EQ(r.exitCode, 2) << r.describe();
  EXPECT_NE(r.err.find("renew deadline"), std::string::npos) << r.err;
  r = run({bin, "--cluster-pool-cidr", kPool}, noCluster);
  EXPECT_EQ(r.exitCode, 1) << r.describe();
}

}  // namespace
}  // namespace petrel::e2e
