// Operator wiring: leader election thread, informers as triggers, allocation passes.
#include "operator/operator.h"

#include <algorithm>
#include <map>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/json_path.h"
#include "k8s/crds.h"

namespace petrel::op {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto kRequestTimeout = 10s;
constexpr auto kMinPassGap = 300ms;
const std::string kPetrelNodes = "/apis/petrel.io/v1alpha1/petrelnodes";
const std::string kNodes = "/api/v1/nodes";

std::string describe(const Result<k8s::HttpResponse>& r) {
  if (!r) return r.status().message();
  std::string msg = stringAt(json::parse(r->body, nullptr, false), {"message"});
  return "HTTP " + std::to_string(r->status) + (msg.empty() ? "" : ": " + msg);
}

std::string resourceVersionOf(const std::string& body) {
  return stringAt(json::parse(body, nullptr, false), {"metadata", "resourceVersion"});
}

// LeaseApi over the REST client.
class RestLeaseApi : public LeaseApi {
 public:
  RestLeaseApi(const k8s::RestClient& client, std::string name, std::string ns,
               std::chrono::seconds timeout)
      : client_(client), name_(std::move(name)), ns_(std::move(ns)), timeout_(timeout) {}

  Result<std::optional<LeaseRecord>> get() override {
    auto r = client_.get(collection() + "/" + name_, timeout_);
    if (!r) return r.status();
    if (r->status == 404) return std::optional<LeaseRecord>();
    if (r->status != 200) return Status(Code::kUnavailable, "get lease: " + describe(r));
    json lease = json::parse(r->body, nullptr, false);
    if (!lease.is_object()) return Status(Code::kUnavailable, "get lease: answer is not JSON");
    return std::optional<LeaseRecord>(leaseRecordOf(lease));
  }
  Write create(const LeaseRecord& record) override {
    LeaseRecord fresh = record;
    fresh.resource_version.clear();
    return outcome(
        client_.send("POST", collection(), leaseObject(name_, ns_, fresh).dump(), timeout_),
        "create");
  }
  Write update(const LeaseRecord& record) override {
    return outcome(client_.send("PUT", collection() + "/" + name_,
                                leaseObject(name_, ns_, record).dump(), timeout_),
                   "update");
  }

 private:
  std::string collection() const {
    return "/apis/coordination.k8s.io/v1/namespaces/" + ns_ + "/leases";
  }
  Write outcome(const Result<k8s::HttpResponse>& r, const char* what) const {
    Write w;
    if (r && r->status >= 200 && r->status < 300) {
      w.outcome = Outcome::kOk;
      w.resource_version = resourceVersionOf(r->body);
    } else if (r && r->status == 409) {
      w.outcome = Outcome::kConflict;
    } else {
      spdlog::warn("leader election: {} lease {}/{}: {}", what, ns_, name_, describe(r));
    }
    return w;
  }

  const k8s::RestClient& client_;
  std::string name_, ns_;
  std::chrono::seconds timeout_;
};

json addressesOf(const std::vector<std::string>& ips) {
  json out = json::array();
  for (const auto& ip : ips) out.push_back({{"type", "InternalIP"}, {"ip", ip}});
  return out;
}

}  // namespace

Operator::Operator(k8s::ClusterConfig config, OperatorOptions options, CidrPool pool)
    : client_(std::move(config)),
      transport_(client_, std::chrono::seconds(90)),
      options_(std::move(options)),
      pool_(std::move(pool)) {
  auto lease_timeout = std::max<std::chrono::seconds>(1s, options_.election.renew_deadline / 2);
  lease_api_ = std::make_unique<RestLeaseApi>(client_, options_.lease_name,
                                              options_.lease_namespace, lease_timeout);
  elector_ = std::make_unique<LeaderElector>(*lease_api_, options_.election);
  auto informer = [this](const std::string& kind, const std::string& path, bool absent_ok) {
    k8s::ListWatchOptions o;
    o.path = path;
    o.absent_ok = absent_ok;
    o.absent_recheck = 2s;
    auto decode = [](const json& obj) { return k8s::decodeRawObject(obj, false); };
    k8s::InformerCache<k8s::RawObject>::Handlers h{[this](const k8s::RawObject&) { markDirty(); },
                                                   [this](const k8s::RawObject&) { markDirty(); }};
    return std::make_unique<k8s::Informer<k8s::RawObject>>(transport_, o, kind, decode, h);
  };
  nodes_ = informer("nodes", kNodes, false);
  petrel_nodes_ = informer("petrelnodes", kPetrelNodes, true);
}

Operator::~Operator() {
  nodes_->stop();
  petrel_nodes_->stop();
}

void Operator::wake() {
  cv_.notify_all();
}

bool Operator::leadingLocked() const {
  return leading_until_ && std::chrono::steady_clock::now() <= *leading_until_;
}

bool Operator::leadingNow() const {
  std::lock_guard lock(mu_);
  return leadingLocked();
}

void Operator::electionLoop(const std::atomic<bool>& stop) {
  bool was = false;
  while (!stop) {
    bool now = elector_->step();
    auto until = elector_->leadingUntil();
    {
      std::lock_guard lock(mu_);
      leading_until_ = until;
      if (now && !was) ++terms_;
    }
    if (now && !was) {
      markDirty(/*full=*/true);
      spdlog::info("leader election: became the leader (lease {}/{}, identity {})",
                   options_.lease_namespace, options_.lease_name, options_.election.identity);
    } else if (!now && was) {
      spdlog::warn("leader election: not the leader any more; back to candidate");
    } else if (!now) {
      spdlog::debug("leader election: candidate; lease held by '{}'", elector_->observedHolder());
    }
    was = now;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, options_.election.retry_period, [&] { return stop.load(); });
  }
  std::lock_guard lock(mu_);
  leading_until_.reset();  // no more writes from this replica
}

void Operator::run(const std::atomic<bool>& stop) {
  stopping_ = &stop;
  ReconcilerOptions o;
  o.repair_interval = options_.resync;
  o.min_gap = kMinPassGap;  // events coalesce: passes (each a full list) start that far apart
  o.initial_backoff = 500ms;
  o.max_backoff = 10s;
  ReconcileLoop loop(*this, o);
  nodes_->start();
  petrel_nodes_->start();
  std::thread election([&] { electionLoop(stop); });
  loop.start();
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stop.load(); });
  }
  loop.stop();
  cv_.notify_all();
  election.join();
  // Both threads are done, so nothing this replica writes can land after the release.
  if (elector_->leadingUntil() && elector_->release()) {
    spdlog::info("leader election: released the lease");
  }
  nodes_->stop();
  petrel_nodes_->stop();
}

Status Operator::reconcile(const ReconcilePass&) {
  uint64_t term = 0;
  {
    std::lock_guard lock(mu_);
    term = terms_;
  }
  if (crds_term_ != term) {
    Status st = k8s::installCrds(client_);
    if (!st) return st.withContext("install CRDs");
    spdlog::info("installed Petrel's CRDs");
    crds_term_ = term;
  }
  if (!allocationPass()) {
    return Status(Code::kUnavailable, "allocation pass incomplete (see the warnings above)");
  }
  return Status::ok();
}

Result<std::vector<json>> Operator::listAll(const std::string& path) const {
  std::vector<json> items;
  std::string cont;
  do {
    std::string query =
        path + "?limit=500" + (cont.empty() ? "" : "&continue=" + k8s::urlEncode(cont));
    auto r = client_.get(query, kRequestTimeout);
    if (!r || r->status != 200)
      return Status(Code::kUnavailable, "list " + path + ": " + describe(r));
    json list = json::parse(r->body, nullptr, false);
    if (!list.is_object() || !list.contains("items") || !list["items"].is_array()) {
      return Status(Code::kUnavailable, "list " + path + ": not a list");
    }
    for (auto& item : list["items"]) items.push_back(std::move(item));
    cont = stringAt(list, {"metadata", "continue"});
  } while (!cont.empty());
  return items;
}

bool Operator::allocationPass() {
  // PetrelNodes first: a record is only made for a Node that exists, so a record whose Node is
  // missing from the later Node list really belongs to a deleted Node.
  auto records = listAll(kPetrelNodes);
  if (!records) {
    spdlog::warn("allocation pass: {}", records.status().message());
    return false;
  }
  auto nodes = listAll(kNodes);
  if (!nodes) {
    spdlog::warn("allocation pass: {}", nodes.status().message());
    return false;
  }
  // Decoded as agents decode them (agent/k8s/objects.h). A record that cannot be read stops the
  // pass: without it the plan could hand its CIDR out again. A Node that cannot be read keeps
  // its record as it is.
  std::vector<PetrelNodeView> record_views;
  std::map<std::string, const json*> by_name;
  for (const auto& p : *records) {
    auto record = k8s::decodePetrelNode(p);
    if (!record) {
      spdlog::warn("allocation pass: {}; no allocation until it is fixed or deleted",
                   record.status().message());
      return false;
    }
    record_views.push_back(petrelNodeViewOf(*record));
    by_name[record_views.back().name] = &p;
  }
  std::vector<NodeView> node_views;
  for (const auto& n : *nodes) {
    auto node = k8s::decodeNode(n);
    if (node) {
      node_views.push_back(nodeViewOf(*node));
      continue;
    }
    auto meta = k8s::decodeMeta(n, false);
    if (!meta) {
      spdlog::warn("allocation pass: a Node without a readable name: {}", meta.status().message());
      return false;
    }
    node_views.push_back(unreadableNodeView(meta->name, node.status().message()));
  }
  AllocationPlan plan = planAllocations(pool_, node_views, record_views);
  logFindings(plan);
  bool ok = true;
  for (const auto& action : plan.actions) {
    if (stopping_ && *stopping_) return true;
    if (!leadingNow()) {
      spdlog::warn("allocation pass: not the leader any more; stopping");
      return true;
    }
    auto it = by_name.find(action.name);
    if (!apply(action, it == by_name.end() ? nullptr : it->second)) ok = false;
  }
  spdlog::debug("allocation pass: {} nodes, {} of {} node CIDRs used, {} writes", nodes->size(),
                plan.used, pool_.capacity(), plan.actions.size());
  return ok;
}

void Operator::logFindings(const AllocationPlan& plan) {
  std::set<std::string> now;
  for (const auto& w : plan.warnings) now.insert("W" + w);
  for (const auto& n : plan.exhausted) now.insert("E" + n);
  for (const auto& f : now) {
    if (reported_.count(f)) continue;
    if (f[0] == 'W') {
      spdlog::warn("{}", f.substr(1));
    } else {
      spdlog::error("node {}: no pod CIDR: the cluster pool {} is exhausted ({} node CIDRs of /{})",
                    f.substr(1), pool_.pool().toString(), pool_.capacity(), pool_.nodeMask());
    }
  }
  reported_ = std::move(now);
}

bool Operator::apply(const NodeAction& action, const json* current) {
  const std::string path = kPetrelNodes + "/" + action.name;
  const std::string cidr = action.cidr ? action.cidr->toString() : "";
  Result<k8s::HttpResponse> r = Status(Code::kInternal, "no request");
  switch (action.kind) {
    case NodeAction::Kind::kDelete: {
      json opts = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
      if (current) {
        opts["preconditions"] = {
            {"resourceVersion", stringAt(*current, {"metadata", "resourceVersion"})}};
      }
      r = client_.send("DELETE", path, opts.dump(), kRequestTimeout);
      if (r && (r->status == 404 || (r->status >= 200 && r->status < 300))) {
        spdlog::info("released {} of deleted node {}", cidr.empty() ? "no CIDR" : cidr,
                     action.name);
        return true;
      }
      break;
    }
    case NodeAction::Kind::kCreate: {
      json obj = {
          {"apiVersion", "petrel.io/v1alpha1"},
          {"kind", "PetrelNode"},
          {"metadata", {{"name", action.name}}},
          {"spec",
           {{"ipam", {{"podCIDRs", {cidr}}}}, {"addresses", addressesOf(action.internal_ips)}}}};
      r = client_.send("POST", kPetrelNodes, obj.dump(), kRequestTimeout);
      break;
    }
    case NodeAction::Kind::kUpdate: {
      if (!current) return false;
      json obj = *current;
      if (!obj["spec"].is_object()) obj["spec"] = json::object();
      if (!obj["spec"]["ipam"].is_object()) obj["spec"]["ipam"] = json::object();
      obj["spec"]["ipam"]["podCIDRs"] = {cidr};
      obj["spec"]["addresses"] = addressesOf(action.internal_ips);
      r = client_.send("PUT", path, obj.dump(), kRequestTimeout);
      break;
    }
  }
  if (r && r->status >= 200 && r->status < 300) {
    if (action.new_cidr) {
      if (action.reason == "allocated") {
        spdlog::info("allocated {} to node {}", cidr, action.name);
      } else {
        spdlog::info("allocated {} to node {} ({})", cidr, action.name, action.reason);
      }
    } else {
      spdlog::info("updated PetrelNode {}: {}", action.name, action.reason);
    }
    return true;
  }
  if (r && r->status == 409) {
    spdlog::debug("PetrelNode {}: changed meanwhile (409); next pass", action.name);
  } else {
    spdlog::warn("PetrelNode {}: write failed: {}", action.name, describe(r));
  }
  return false;
}

}  // namespace petrel::op
