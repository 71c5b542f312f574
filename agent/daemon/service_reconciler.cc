// ServiceReconciler: see service_reconciler.h.
#include "agent/daemon/service_reconciler.h"

#include <spdlog/spdlog.h>

#include "agent/core/service_frontends.h"

namespace petrel::agent {

ServiceReconciler::ServiceReconciler(std::string node_name, const ServiceInputs& inputs,
                                     core::LbDatapath& lb, BackendResetter& resetter)
    : node_name_(std::move(node_name)), inputs_(inputs), lb_(lb), resetter_(resetter) {}

void ServiceReconciler::serviceChanged(const k8s::Service& service) {
  {
    std::lock_guard lock(mu_);
    dirty_services_.insert(service.meta.key());
  }
  markDirty();
}

void ServiceReconciler::sliceChanged(const k8s::EndpointSlice& slice, bool deleted) {
  {
    std::lock_guard lock(mu_);
    for (auto& service : slices_.update(slice, deleted)) dirty_services_.insert(std::move(service));
  }
  markDirty();
}

void ServiceReconciler::nodeAddressesChanged() {
  {
    std::lock_guard lock(mu_);
    full_ = true;
  }
  markDirty();
}

bool ServiceReconciler::servingTerminating(core::EndpointAddr e) const {
  std::lock_guard lock(mu_);
  return slices_.servingTerminating(e);
}

std::set<core::EndpointAddr> ServiceReconciler::draining() const {
  return drain_.draining();
}

Status ServiceReconciler::reconcile(const ReconcilePass& pass) {
  const core::LbNode self{node_name_, inputs_.nodeAddresses()};
  std::set<std::string> dirty;
  bool full = pass.full;
  {
    std::lock_guard lock(mu_);
    dirty.swap(dirty_services_);
    full = full || full_;
    full_ = false;
  }
  if (full) {
    frontends_.rebuild(inputs_.services(), inputs_.slices(), self);
  } else {
    for (const auto& service : dirty) {
      std::set<std::string> slice_keys;
      {
        std::lock_guard lock(mu_);
        slice_keys = slices_.slicesOf(service);
      }
      std::vector<k8s::EndpointSlice> slices;
      for (const auto& key : slice_keys) {
        if (auto slice = inputs_.slice(key)) slices.push_back(std::move(*slice));
      }
      frontends_.update(service, inputs_.service(service), slices, self);
    }
  }
  Status st = lb_.apply(frontends_.state());  // calls backendRemoved for each backend gone
  if (!st) {
    std::lock_guard lock(mu_);
    full_ = true;  // the retry recomputes everything
  }
  // The serving terminating endpoints of the Services served here drain; those whose endpoints
  // are gone now have their clients reset.
  std::map<std::string, std::set<core::EndpointAddr>> terminating;
  {
    std::lock_guard lock(mu_);
    terminating = slices_.servingTerminatingByService();
  }
  for (const auto& [service, endpoints] : terminating) {
    if (auto svc = inputs_.service(service); svc && core::loadBalanced(*svc))
      drain_.seed(endpoints);
  }
  for (const auto& [ip, port] :
       drain_.finished([this](core::EndpointAddr e) { return servingTerminating(e); })) {
    resetter_.reset(Ipv4Addr{ip}, port, 0);
  }
  return st;
}

void ServiceReconciler::backendRemoved(Ipv4Addr ip, uint16_t port, uint8_t proto) {
  switch (drain_.removed({ip.value, port}, servingTerminating({ip.value, port}))) {
    case core::BackendDrain::Verdict::kDrainStarted:
      spdlog::info(
          "backend {}:{} is terminating: it takes no new connections, and its open ones go on "
          "until its endpoint is gone",
          ip.toString(), port);
      return;
    case core::BackendDrain::Verdict::kDrain:
      return;
    case core::BackendDrain::Verdict::kReset:
      resetter_.reset(ip, port, proto);
      return;
  }
}

}  // namespace petrel::agent
