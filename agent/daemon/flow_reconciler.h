// FlowReconciler ("flows"): the one user-space writer of the conntrack and NAT maps (the
// programs are the other writers). Its repair pass collects the flows idle past their timeout
// (datapath/flow_gc.h); the services reconciler asks it, through forget(), to drop the
// connections of removed backends, which its next pass does (so their clients from outside get a
// reset instead of a blackhole).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "agent/datapath/flow_gc.h"
#include "common/reconciler.h"

namespace petrel::agent {

class FlowReconciler : public Reconciler {
 public:
  // `now_ns`: the programs' clock (CLOCK_MONOTONIC ns); a fake in tests.
  FlowReconciler(datapath::CtMap& ct, datapath::NatMap& nat,
                 std::function<uint64_t()> now_ns = datapath::monotonicNowNs)
      : ct_(ct), nat_(nat), now_ns_(std::move(now_ns)) {}

  std::string name() const override { return "flows"; }
  // Forgets queued backends' connections; a full pass also collects idle flows.
  Status reconcile(const ReconcilePass& pass) override;
  // Queues `backend`'s connections to be forgotten and marks the reconciler dirty.
  void forget(const datapath::BackendRef& backend);

 private:
  datapath::CtMap& ct_;
  datapath::NatMap& nat_;
  std::function<uint64_t()> now_ns_;
  std::mutex mu_;
  std::set<datapath::BackendRef> queued_;
};

}  // namespace petrel::agent
