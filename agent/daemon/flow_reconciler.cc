// FlowReconciler: see flow_reconciler.h.
#include "agent/daemon/flow_reconciler.h"

#include <spdlog/spdlog.h>

namespace petrel::agent {

void FlowReconciler::forget(const datapath::BackendRef& backend) {
  {
    std::lock_guard lock(mu_);
    queued_.insert(backend);
  }
  markDirty();
}

Status FlowReconciler::reconcile(const ReconcilePass& pass) {
  std::set<datapath::BackendRef> backends;
  {
    std::lock_guard lock(mu_);
    backends.swap(queued_);
  }
  if (!backends.empty()) {
    auto n = datapath::forgetConnectionsTo(ct_, backends);
    if (!n) {
      std::lock_guard lock(mu_);
      queued_.insert(backends.begin(), backends.end());  // the retry tries them again
      return n.status().withContext(
          fmt::format("forget the conntrack entries of {} removed backends", backends.size()));
    }
    if (*n > 0) {
      spdlog::info("{} removed backends: forgot {} conntrack entries, so their clients get a reset",
                   backends.size(), *n);
    }
  }
  if (!pass.full) return Status::ok();
  auto gc = datapath::collectIdleFlows(ct_, nat_, now_ns_());
  if (!gc) return gc.status().withContext("flow garbage collection");
  if (gc->ct_deleted + gc->nat_deleted > 0) {
    spdlog::info(
        "flow garbage collection: removed {} conntrack and {} NAT entries idle past their "
        "timeout ({} and {} remain)",
        gc->ct_deleted, gc->nat_deleted, gc->ct_kept, gc->nat_kept);
  }
  return Status::ok();
}

}  // namespace petrel::agent
