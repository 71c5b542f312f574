// Flow table garbage collection.
#include "agent/datapath/flow_gc.h"

#include <netinet/in.h>
#include <time.h>

namespace petrel::datapath {

namespace {

bool idle(uint64_t now, uint64_t last_seen, uint64_t timeout) {
  return now > last_seen && now - last_seen > timeout;
}

// The reply entry's key (backend -> client) of the connection whose client entry is (k, e).
ct_key replyKeyOf(const ct_key& k, const ct_entry& e) {
  ct_key reply = k;
  reply.saddr = e.addr;
  reply.sport = e.port;
  reply.daddr = k.saddr;
  reply.dport = k.sport;
  reply.dir = CT_DIR_REPLY;
  return reply;
}

// Whether the backend of the connection of entry (k, e) has answered. The datapath marks only
// the reply entry (backend -> client), the one an answer passes: the client's side asks it.
bool answered(CtMap& ct, const ct_key& k, const ct_entry& e) {
  if (e.flags & CT_F_REPLIED) return true;
  if (k.dir != CT_DIR_SERVICE) return false;
  auto pair = ct.lookup(replyKeyOf(k, e));
  return pair && (pair->flags & CT_F_REPLIED);
}

uint64_t ctTimeout(CtMap& ct, const ct_key& k, const ct_entry& e, const FlowTimeouts& t) {
  if (k.proto != IPPROTO_TCP) return t.other_ns;
  if (e.flags & CT_F_CLOSING) return t.tcp_closing_ns;
  if (!answered(ct, k, e)) return t.tcp_unanswered_ns;
  return t.tcp_established_ns;
}

uint64_t natTimeout(const nat_key& k, const nat_entry& e, const FlowTimeouts& t) {
  if (k.proto != IPPROTO_TCP) return t.other_ns;
  return (e.flags & NAT_F_CLOSING) ? t.tcp_closing_ns : t.tcp_established_ns;
}

template <typename Map, typename Timeout>
Status sweep(Map& map, uint64_t now, Timeout timeout, uint64_t& deleted, uint64_t& kept) {
  auto keys = map.keys();
  if (!keys) return keys.status();
  for (const auto& key : *keys) {
    auto value = map.lookup(key);
    if (!value) continue;  // gone meanwhile
    if (idle(now, value->last_seen_ns, timeout(key, *value))) {
      if (map.remove(key)) ++deleted;
    } else {
      ++kept;
    }
  }
  return Status::ok();
}

}  // namespace

Result<uint64_t> forgetConnectionsTo(CtMap& ct,
                                     const std::set<std::pair<uint32_t, uint16_t>>& backends) {
  auto keys = ct.keys();
  if (!keys) return keys.status();
  uint64_t forgotten = 0;
  for (const auto& key : *keys) {
    if (key.dir != CT_DIR_SERVICE) continue;
    auto e = ct.lookup(key);
    if (!e || !backends.count({ntohl(e->addr), ntohs(e->port)})) continue;
    if (ct.remove(replyKeyOf(key, *e))) ++forgotten;
    if (ct.remove(key)) ++forgotten;
  }
  return forgotten;
}

uint64_t monotonicNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

Result<FlowGcResult> collectIdleFlows(CtMap& ct, NatMap& nat, uint64_t now_ns,
                                      const FlowTimeouts& timeouts) {
  FlowGcResult r;
  PETREL_RETURN_IF_ERROR(sweep(
      ct, now_ns, [&](const ct_key& k, const ct_entry& e) { return ctTimeout(ct, k, e, timeouts); },
      r.ct_deleted, r.ct_kept));
  PETREL_RETURN_IF_ERROR(sweep(
      nat, now_ns, [&](const nat_key& k, const nat_entry& e) { return natTimeout(k, e, timeouts); },
      r.nat_deleted, r.nat_kept));
  return r;
}

}  // namespace petrel::datapath
