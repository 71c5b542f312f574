// Operator: the wiring of petrel-operator. One thread runs leader election on a Lease; the
// other, while this replica leads, installs Petrel's CRDs once and then runs allocation passes
// (list PetrelNodes and Nodes fresh from the server, planAllocations, write) whenever a Node or
// PetrelNode informer reports a change and every resync period. Every write is preceded by a
// leadership check, so a replica that lost the Lease stops acting before another can take over.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/reconciler.h"
#include "k8s/cluster_config.h"
#include "k8s/informer.h"
#include "k8s/raw_object.h"
#include "k8s/rest_client.h"
#include "k8s/rest_transport.h"
#include "operator/allocation_plan.h"
#include "operator/cidr_pool.h"
#include "operator/leader_election.h"

namespace petrel::op {

struct OperatorOptions {
  std::string lease_name = "petrel-operator";
  std::string lease_namespace = "kube-system";
  ElectionConfig election;
  std::chrono::seconds resync{30};  // full allocation pass even without events
};

// The allocation is the operator's reconciler ("pod-cidrs"): ready only while this replica
// leads, marked dirty by the Node and PetrelNode informers and on each new term, and run on the
// one reconcile loop (coalesced, retried with backoff, a full pass every `resync`).
class Operator : public Reconciler {
 public:
  Operator(k8s::ClusterConfig config, OperatorOptions options, CidrPool pool);
  ~Operator();
  Operator(const Operator&) = delete;
  Operator& operator=(const Operator&) = delete;

  // Runs until `stop` is set (call wake() after setting it); a leader then releases the Lease.
  void run(const std::atomic<bool>& stop);
  void wake();

  std::string name() const override { return "pod-cidrs"; }
  bool ready() const override { return leadingNow(); }
  // Installs the CRDs once per term, then one allocation pass.
  Status reconcile(const ReconcilePass& pass) override;

 private:
  void electionLoop(const std::atomic<bool>& stop);
  bool leadingNow() const;
  bool leadingLocked() const;  // mu_ held
  // One allocation pass; false when something should be retried soon.
  bool allocationPass();
  Result<std::vector<nlohmann::json>> listAll(const std::string& path) const;
  // Writes one planned action; false when it should be retried.
  bool apply(const NodeAction& action, const nlohmann::json* current);
  void logFindings(const AllocationPlan& plan);

  k8s::RestClient client_;
  k8s::RestTransport transport_;
  OperatorOptions options_;
  CidrPool pool_;
  std::unique_ptr<LeaseApi> lease_api_;
  std::unique_ptr<LeaderElector> elector_;
  std::unique_ptr<k8s::Informer<k8s::RawObject>> nodes_, petrel_nodes_;

  const std::atomic<bool>* stopping_ = nullptr;  // run()'s stop flag
  mutable std::mutex mu_;
  std::condition_variable cv_;  // wakes the election loop
  std::optional<std::chrono::steady_clock::time_point> leading_until_;
  uint64_t terms_ = 0;              // times this replica became leader
  uint64_t crds_term_ = 0;          // the term in which the CRDs were installed (loop thread)
  std::set<std::string> reported_;  // findings already logged (not repeated every pass)
};

}  // namespace petrel::op
