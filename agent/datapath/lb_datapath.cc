// BpfLbDatapath: incremental writes of frontends and backends.
#include "agent/datapath/lb_datapath.h"

#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "agent/core/maglev.h"
#include "agent/datapath/map_pressure.h"
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
    backend_ids_[backendAddr(ntohl(b->address), ntohs(b->port), b->proto)] = id;
    backend_values_[id] = *b;
    unused_backends_.push_back(id);  // unless a slot below refers to it
    next_backend_id_ = std::max(next_backend_id_, id + 1);
  }
  auto service_keys = services_.keys();
  if (!service_keys) return service_keys.status();
  for (const auto& key : *service_keys) {
    auto v = services_.lookup(key);
    if (!v) continue;
    core::LbFrontend f{Ipv4Addr::fromNetwork(key.address), ntohs(key.port), key.proto};
    Frontend& applied = applied_[f];
    applied.restored = true;
    if (key.slot == 0) {
      applied.master = *v;
      if (v->service_id) {
        used_service_ids_.insert(v->service_id);
        unused_service_ids_.push_back(v->service_id);  // unless counted below
      }
    } else {
      if (applied.slots.size() < key.slot) applied.slots.resize(key.slot, 0);
      // A slot without the backend's address (written by an older agent) counts as unknown
      // (id 0), so the first apply() rewrites it.
      applied.slots[key.slot - 1] = v->backend_address ? v->backend_id : 0;
      // A slot may name a backend whose entry is gone: never hand its id to another.
      next_backend_id_ = std::max(next_backend_id_, v->backend_id + 1);
    }
  }
  for (const auto& [frontend, f] : applied_) reference(f);
  spdlog::info("service LB: {} frontends and {} backends found in the maps", applied_.size(),
               backend_ids_.size());
  return Status::ok();
}

void BpfLbDatapath::reference(const Frontend& f) {
  for (uint32_t id : f.slots) {
    if (id != 0) ++backend_refs_[id];
  }
  if (f.master.service_id != 0) ++service_refs_[f.master.service_id];
}

void BpfLbDatapath::unreference(const Frontend& f) {
  for (uint32_t id : f.slots) {
    auto it = backend_refs_.find(id);
    if (it != backend_refs_.end() && --it->second == 0) unused_backends_.push_back(id);
  }
  if (const uint16_t id = f.master.service_id; id != 0) {
    auto it = service_refs_.find(id);
    if (it != service_refs_.end() && --it->second == 0) unused_service_ids_.push_back(id);
  }
}

Result<uint32_t> BpfLbDatapath::backendId(const core::LbBackend& b, uint8_t proto) {
  lb_backend want{};
  want.address = b.ip.toNetwork();
  want.port = htons(b.port);
  want.proto = proto;
  want.flags = b.terminating ? LB_BACKEND_F_TERMINATING : 0;
  const BackendAddr addr = backendAddr(b.ip.value, b.port, proto);
  auto it = backend_ids_.find(addr);
  const uint32_t id = it != backend_ids_.end() ? it->second : next_backend_id_;
  if (auto w = backend_values_.find(id);
      w != backend_values_.end() && std::memcmp(&w->second, &want, sizeof(want)) == 0) {
    return id;  // already written as wanted: no system call
  }
  ++stats_.map_writes;
  PETREL_RETURN_IF_ERROR(backends_.update(id, want));
  backend_values_[id] = want;
  if (it == backend_ids_.end()) {
    backend_ids_[addr] = id;
    ++next_backend_id_;
    unused_backends_.push_back(id);  // removed after this pass unless a slot takes it
  }
  return id;
}

uint16_t BpfLbDatapath::serviceId(const Frontend& applied, const core::LbService& svc) {
  // The common case, a frontend applied before for the same Service port: no string to build.
  if (!applied.restored && applied.master.service_id && applied.service.service == svc.service &&
      applied.service.port_name == svc.port_name) {
    return applied.master.service_id;
  }
  std::string key = svc.service + "/" + svc.port_name;
  if (auto it = service_ids_.find(key); it != service_ids_.end()) return it->second;
  uint16_t id = 0;
  // A frontend read back from the maps keeps its id (affinity entries refer to it), unless
  // another Service port has claimed that id already.
  if (applied.restored && applied.master.service_id &&
      !service_keys_.count(applied.master.service_id)) {
    id = applied.master.service_id;
  } else {
    while (used_service_ids_.count(next_service_id_) || next_service_id_ == 0) ++next_service_id_;
    id = next_service_id_++;
  }
  used_service_ids_.insert(id);
  unused_service_ids_.push_back(id);  // freed after this pass unless a master takes it
  service_keys_[id] = key;
  service_ids_[std::move(key)] = id;
  return id;
}

bool BpfLbDatapath::wantsMaglev(const core::LbService& svc) const {
  return maglev_size_ && svc.kind != core::LbKind::kClusterIp;
}

bool BpfLbDatapath::unchanged(const Frontend& applied, const core::LbService& svc) const {
  // The same Service entry gives the same backend ids (stable while this frontend uses them),
  // the same Service id and so the same master and slots.
  return !applied.restored && applied.maglev == wantsMaglev(svc) && applied.service == svc;
}

Status BpfLbDatapath::write(const core::LbFrontend& frontend, const core::LbService& svc) {
  ++stats_.written;
  std::vector<uint32_t> ids;
  ids.reserve(svc.backends.size());
  for (const auto& b : svc.backends) {
    auto id = backendId(b, frontend.proto);
    if (!id) return id.status();
    ids.push_back(*id);
  }
  Frontend& f = applied_[frontend];
  lb_service_value master{};
  master.count = static_cast<uint16_t>(std::min<size_t>(ids.size(), UINT16_MAX));
  master.service_id = serviceId(f, svc);
  master.affinity_timeout = svc.affinity_timeout;
  const bool terminating_only =
      !svc.backends.empty() && std::all_of(svc.backends.begin(), svc.backends.end(),
                                           [](const core::LbBackend& b) { return b.terminating; });
  master.flags = (svc.affinity ? LB_SVC_F_AFFINITY : 0) |
                 (svc.external_local ? LB_SVC_F_EXTERNAL_LOCAL : 0) |
                 (svc.internal_local ? LB_SVC_F_INTERNAL_LOCAL : 0) |
                 (terminating_only ? LB_SVC_F_TERMINATING_ONLY : 0) |
                 (svc.remote_only ? LB_SVC_F_REMOTE_ONLY : 0);
  master.kind = static_cast<uint8_t>(svc.kind);
  const bool wants_maglev = wantsMaglev(svc);
  if (f.slots == ids && sameValue(f.master, master) && f.maglev == wants_maglev) {
    if (!(f.service == svc)) f.service = svc;  // names for output only: no copy when equal
    f.restored = false;
    return Status::ok();
  }
  // The table depends only on the backends (ids stand for addresses): a change of the master
  // alone (affinity, traffic policy, kind) keeps it.
  if ((wants_maglev || f.maglev) && (f.slots != ids || f.maglev != wants_maglev)) {
    ++stats_.maglev_writes;
    PETREL_RETURN_IF_ERROR(writeMaglev(frontend, svc, ids));
  }
  for (size_t i = 0; i < ids.size() && i < UINT16_MAX; ++i) {
    if (i < f.slots.size() && f.slots[i] == ids[i]) continue;
    lb_service_value slot{};
    slot.backend_id = ids[i];
    slot.backend_address = svc.backends[i].ip.toNetwork();
    slot.backend_port = htons(svc.backends[i].port);
    ++stats_.map_writes;
    PETREL_RETURN_IF_ERROR(services_.update(keyOf(frontend, static_cast<uint16_t>(i + 1)), slot));
  }
  ++stats_.map_writes;
  PETREL_RETURN_IF_ERROR(services_.update(keyOf(frontend, 0), master));
  // Surplus slots are beyond the new count, so never read: one left behind does no harm.
  for (size_t i = ids.size(); i < f.slots.size(); ++i) {
    ++stats_.map_writes;
    static_cast<void>(services_.remove(keyOf(frontend, static_cast<uint16_t>(i + 1))));
  }
  Frontend next{svc, master, std::move(ids), wants_maglev, false};
  reference(next);  // before the old ones are let go: a backend kept is never unused
  unreference(f);
  f = std::move(next);
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
    return mapWriteError(maglev_fd_, PETREL_MAP_LB_MAGLEV, errno,
                         "the Maglev table of " + frontend.toString());
  }
  return Status::ok();
}

Status BpfLbDatapath::remove(std::map<core::LbFrontend, Frontend>::iterator it) {
  ++stats_.removed;
  const core::LbFrontend& frontend = it->first;
  ++stats_.map_writes;
  Status st = services_.remove(keyOf(frontend, 0));  // the master first: no new choices
  if (maglev_fd_ >= 0) {                             // also a table a previous run wrote
    lb_service_key key = keyOf(frontend, 0);
    ++stats_.maglev_writes;
    bpf_map_delete_elem(maglev_fd_, &key);
  }
  for (size_t i = 0; i < it->second.slots.size(); ++i) {  // unreachable without the master
    ++stats_.map_writes;
    static_cast<void>(services_.remove(keyOf(frontend, static_cast<uint16_t>(i + 1))));
  }
  unreference(it->second);
  applied_.erase(it);
  return st;
}

Status BpfLbDatapath::collectUnused() {
  Status first = Status::ok();
  for (uint32_t id : unused_backends_) {
    if (auto r = backend_refs_.find(id); r != backend_refs_.end()) {
      if (r->second != 0) continue;  // taken again since
      backend_refs_.erase(r);
    }
    auto v = backend_values_.find(id);
    if (v == backend_values_.end()) continue;  // a slot naming a backend with no entry, or seen
    ++stats_.map_writes;
    if (Status st = backends_.remove(id); !st.isOk() && first.isOk()) first = std::move(st);
    const uint32_t ip = ntohl(v->second.address);
    const uint16_t port = ntohs(v->second.port);
    const uint8_t proto = v->second.proto;
    backend_values_.erase(v);
    backend_ids_.erase(backendAddr(ip, port, proto));
    if (on_removed_) on_removed_(Ipv4Addr{ip}, port, proto);
  }
  unused_backends_.clear();
  for (uint16_t id : unused_service_ids_) {
    if (auto r = service_refs_.find(id); r != service_refs_.end()) {
      if (r->second != 0) continue;
      service_refs_.erase(r);
    }
    used_service_ids_.erase(id);
    if (auto k = service_keys_.find(id); k != service_keys_.end()) {
      if (auto s = service_ids_.find(k->second); s != service_ids_.end() && s->second == id) {
        service_ids_.erase(s);
      }
      service_keys_.erase(k);
    }
  }
  unused_service_ids_.clear();
  return first;
}

Status BpfLbDatapath::apply(const core::LbState& desired) {
  std::lock_guard lock(mu_);
  stats_ = {};
  Status first = Status::ok();
  auto note = [&](Status s) {
    if (!s.isOk() && first.isOk()) first = std::move(s);
  };
  // One walk over both, each ordered by frontend: what is no longer wanted, and what is new or
  // differs from what was written. Everything else costs one comparison.
  std::vector<std::map<core::LbFrontend, Frontend>::iterator> gone;
  std::vector<const core::LbState::value_type*> changed;
  auto a = applied_.begin();
  for (const auto& entry : desired) {
    while (a != applied_.end() && a->first < entry.first) gone.push_back(a++);
    if (a != applied_.end() && a->first == entry.first) {
      if (!unchanged(a->second, entry.second)) changed.push_back(&entry);
      ++a;
    } else {
      changed.push_back(&entry);
    }
  }
  for (; a != applied_.end(); ++a) gone.push_back(a);
  for (auto it : gone) note(remove(it));
  for (const auto* entry : changed) note(write(entry->first, entry->second));
  // Backends no frontend uses any more, and ids of Service ports that are gone.
  note(collectUnused());
  return first;
}

BpfLbDatapath::ApplyStats BpfLbDatapath::lastApply() const {
  std::lock_guard lock(mu_);
  return stats_;
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
