// BpfLbDatapath: incremental writes of frontends and backends.
#include "agent/datapath/lb_datapath.h"

#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "agent/core/maglev.h"
#include "common/unique_fd.h"

namespace petrel::datapath {

namespace {

lb_service_key keyOf(const core::LbFrontend& f, uint16_t slot) {
  lb_service_key k{};
  k.address = f.ip.toNetwork();
  k.port = htons(f.port);
  k.proto = f.proto;
  k.slot = slot;
  return k;
}

bool sameValue(const lb_service_value& a, const lb_service_value& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

}  // namespace

Status BpfLbDatapath::restore() {
  std::lock_guard lock(mu_);
  auto backend_keys = backends_.keys();
  if (!backend_keys) return backend_keys.status();
  for (uint32_t id : *backend_keys) {
    auto b = backends_.lookup(id);
    if (!b) continue;
    backend_ids_[{ntohl(b->address), ntohs(b->port), b->proto}] = id;
    backend_values_[id] = *b;
    next_backend_id_ = std::max(next_backend_id_, id + 1);
  }
  auto service_keys = services_.keys();
  if (!service_keys) return service_keys.status();
  for (const auto& key : *service_keys) {
    auto v = services_.lookup(key);
    if (!v) continue;
    core::LbFrontend f{Ipv4Addr::fromNetwork(key.address), ntohs(key.port), key.proto};
    Frontend& applied = applied_[f];
    if (key.slot == 0) {
      applied.master = *v;
      used_service_ids_.insert(v->service_id);
    } else {
      if (applied.slots.size() < key.slot) applied.slots.resize(key.slot, 0);
      applied.slots[key.slot - 1] = v->backend_id;
    }
  }
  spdlog::info("service LB: {} frontends and {} backends found in the maps", applied_.size(),
               backend_ids_.size());
  return Status::ok();
}

Result<uint32_t> BpfLbDatapath::backendId(const core::LbBackend& b, uint8_t proto) {
  lb_backend want{};
  want.address = b.ip.toNetwork();
  want.port = htons(b.port);
  want.proto = proto;
  want.flags = b.terminating ? LB_BACKEND_F_TERMINATING : 0;
  const BackendAddr addr{b.ip.value, b.port, proto};
  auto it = backend_ids_.find(addr);
  const uint32_t id = it != backend_ids_.end() ? it->second : next_backend_id_;
  if (auto w = backend_values_.find(id);
      w != backend_values_.end() && std::memcmp(&w->second, &want, sizeof(want)) == 0) {
    return id;  // already written as wanted: no system call
  }
  PETREL_RETURN_IF_ERROR(backends_.update(id, want));
  backend_values_[id] = want;
  if (it == backend_ids_.end()) {
    backend_ids_[addr] = id;
    ++next_backend_id_;
  }
  return id;
}

uint16_t BpfLbDatapath::serviceId(const core::LbFrontend& frontend, const core::LbService& svc) {
  // The common case, a frontend applied before for the same Service port: no string to build.
  if (auto it = applied_.find(frontend);
      it != applied_.end() && it->second.service.service == svc.service &&
      it->second.service.port_name == svc.port_name && it->second.master.service_id) {
    return it->second.master.service_id;
  }
  const std::string key = svc.service + "/" + svc.port_name;
  if (auto it = service_ids_.find(key); it != service_ids_.end()) return it->second;
  uint16_t id = 0;
  // A frontend read back from the maps keeps its id (affinity entries refer to it).
  if (auto it = applied_.find(frontend);
      it != applied_.end() && it->second.service.service.empty() && it->second.master.service_id) {
    id = it->second.master.service_id;
  } else {
    while (used_service_ids_.count(next_service_id_) || next_service_id_ == 0) ++next_service_id_;
    id = next_service_id_++;
  }
  used_service_ids_.insert(id);
  service_ids_[key] = id;
  return id;
}

Status BpfLbDatapath::write(const core::LbFrontend& frontend, const core::LbService& svc) {
  std::vector<uint32_t> ids;
  ids.reserve(svc.backends.size());
  for (const auto& b : svc.backends) {
    auto id = backendId(b, frontend.proto);
    if (!id) return id.status();
    ids.push_back(*id);
  }
  lb_service_value master{};
  master.count = static_cast<uint16_t>(std::min<size_t>(ids.size(), UINT16_MAX));
  master.service_id = serviceId(frontend, svc);
  master.affinity_timeout = svc.affinity_timeout;
  master.flags = (svc.affinity ? LB_SVC_F_AFFINITY : 0) |
                 (svc.external_local ? LB_SVC_F_EXTERNAL_LOCAL : 0) |
                 (svc.internal_local ? LB_SVC_F_INTERNAL_LOCAL : 0);
  master.kind = static_cast<uint8_t>(svc.kind);
  Frontend& f = applied_[frontend];
  const bool wants_maglev = maglev_size_ && svc.kind != core::LbKind::kClusterIp;
  if (f.slots == ids && sameValue(f.master, master) && f.maglev == wants_maglev) {
    if (!(f.service == svc)) f.service = svc;  // names for output only: no copy when equal
    return Status::ok();
  }
  if (wants_maglev || f.maglev) PETREL_RETURN_IF_ERROR(writeMaglev(frontend, svc, ids));
  for (size_t i = 0; i < ids.size() && i < UINT16_MAX; ++i) {
    if (i < f.slots.size() && f.slots[i] == ids[i]) continue;
    lb_service_value slot{};
    slot.backend_id = ids[i];
    PETREL_RETURN_IF_ERROR(services_.update(keyOf(frontend, static_cast<uint16_t>(i + 1)), slot));
  }
  PETREL_RETURN_IF_ERROR(services_.update(keyOf(frontend, 0), master));
  // Surplus slots are beyond the new count, so never read: one left behind does no harm.
  for (size_t i = ids.size(); i < f.slots.size(); ++i) {
    static_cast<void>(services_.remove(keyOf(frontend, static_cast<uint16_t>(i + 1))));
  }
  f = Frontend{svc, master, std::move(ids), wants_maglev};
  return Status::ok();
}

Status BpfLbDatapath::writeMaglev(const core::LbFrontend& frontend, const core::LbService& svc,
                                  const std::vector<uint32_t>& ids) {
  lb_service_key key = keyOf(frontend, 0);
  if (ids.empty() || svc.kind == core::LbKind::kClusterIp || !maglev_size_) {
    bpf_map_delete_elem(maglev_fd_, &key);  // ENOENT is fine: nothing to remove
    return Status::ok();
  }
  std::vector<std::string> names;
  names.reserve(svc.backends.size());
  for (const auto& b : svc.backends)
    names.push_back(b.ip.toString() + ":" + std::to_string(b.port));
  const std::vector<uint32_t> table = core::maglevTable(names, maglev_size_);
  std::vector<uint32_t> keys(table.size()), values(table.size());
  for (uint32_t i = 0; i < table.size(); ++i) {
    keys[i] = i;
    values[i] = ids[table[i]];
  }
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP);  // as the template
  UniqueFd inner(bpf_map_create(BPF_MAP_TYPE_ARRAY, "petrel_maglev", sizeof(uint32_t),
                                sizeof(uint32_t), maglev_size_, &opts));
  if (!inner) return errnoStatus(errno, "create a Maglev table for " + frontend.toString());
  uint32_t count = static_cast<uint32_t>(keys.size());
  if (bpf_map_update_batch(inner.get(), keys.data(), values.data(), &count, nullptr) != 0) {
    return errnoStatus(errno, "fill the Maglev table for " + frontend.toString());
  }
  int inner_fd = inner.get();
  if (bpf_map_update_elem(maglev_fd_, &key, &inner_fd, BPF_ANY) != 0) {
    return errnoStatus(errno, "install the Maglev table for " + frontend.toString());
  }
  return Status::ok();
}

Status BpfLbDatapath::remove(const core::LbFrontend& frontend) {
  auto it = applied_.find(frontend);
  if (it == applied_.end()) return Status::ok();
  Status st = services_.remove(keyOf(frontend, 0));  // the master first: no new choices
  if (maglev_fd_ >= 0) {                             // also a table a previous run wrote
    lb_service_key key = keyOf(frontend, 0);
    bpf_map_delete_elem(maglev_fd_, &key);
  }
  for (size_t i = 0; i < it->second.slots.size(); ++i) {  // unreachable without the master
    static_cast<void>(services_.remove(keyOf(frontend, static_cast<uint16_t>(i + 1))));
  }
  applied_.erase(it);
  return st;
}

Status BpfLbDatapath::apply(const core::LbState& desired) {
  std::lock_guard lock(mu_);
  Status first = Status::ok();
  auto note = [&](Status s) {
    if (!s.isOk() && first.isOk()) first = std::move(s);
  };
  std::vector<core::LbFrontend> gone;
  for (const auto& [frontend, f] : applied_) {
    if (!desired.count(frontend)) gone.push_back(frontend);
  }
  for (const auto& frontend : gone) note(remove(frontend));
  for (const auto& [frontend, svc] : desired) note(write(frontend, svc));
  // Backends no frontend uses any more, and ids of Service ports that are gone.
  std::unordered_set<uint32_t> used;
  std::set<uint16_t> used_ids;
  used.reserve(backend_ids_.size());
  for (const auto& [frontend, f] : applied_) {
    used.insert(f.slots.begin(), f.slots.end());
    used_ids.insert(f.master.service_id);
  }
  for (auto it = backend_ids_.begin(); it != backend_ids_.end();) {
    if (used.count(it->second)) {
      ++it;
      continue;
    }
    note(backends_.remove(it->second));
    backend_values_.erase(it->second);
    const auto& [ip, port, proto] = it->first;
    if (on_removed_) on_removed_(Ipv4Addr{ip}, port, proto);
    it = backend_ids_.erase(it);
  }
  for (auto it = service_ids_.begin(); it != service_ids_.end();) {
    it = used_ids.count(it->second) ? std::next(it) : service_ids_.erase(it);
  }
  used_service_ids_ = used_ids;
  return first;
}

std::map<core::LbFrontend, BpfLbDatapath::Frontend> BpfLbDatapath::applied() const {
  std::lock_guard lock(mu_);
  return applied_;
}

size_t BpfLbDatapath::backendCount() const {
  std::lock_guard lock(mu_);
  return backend_ids_.size();
}

}  // namespace petrel::datapath
