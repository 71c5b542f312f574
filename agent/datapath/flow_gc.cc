// Flow table garbage collection.
#include "agent/datapath/flow_gc.h"

#include <netinet/in.h>
#include <time.h>
#include <algorithm>
#include <type_traits>
#include <vector>

#include "agent/datapath/flow_key.h"

namespace petrel::datapath {

namespace {

bool idle(uint64_t now, uint64_t last_seen, uint64_t timeout) {
  return now > last_seen && now - last_seen > timeout;
}

// The key of the other entry of the connection of entry (k, e): the reply entry (backend ->
// client) of the client's entry (client -> frontend, naming the backend), and back.
flow_key pairKeyOf(const flow_key& k, const ct_entry& e) {
  if (k.dir == CT_DIR_SERVICE)
    return makeFlowKey(e.addr, k.saddr, e.port, k.sport, k.proto, CT_DIR_REPLY);
  return makeFlowKey(k.daddr, e.addr, k.dport, e.port, k.proto, CT_DIR_SERVICE);
}

// A TCP connection's two entries are judged together. The datapath marks only the reply entry
// when the backend answers (the answer passes only it), and each entry when its own direction
// sends FIN or RST. Answered: both live 6 h idle. Never answered: both go a minute after the
// client's entry was last seen (a retransmitted SYN refreshes only that one). Closing: 10 s once
// both directions closed, 2 min while one still may send (half-closed, as the kernel's
// FIN_WAIT); either way counted from the connection's last segment in either direction, so the
// two entries go together (a half-closed connection's reply entry, which carries no FIN, does not
// stay behind for the 6 h of an answered one).
bool ctExpired(CtMap& ct, const flow_key& k, const ct_entry& e, uint64_t now,
               const FlowTimeouts& t) {
  if (k.proto != IPPROTO_TCP) return idle(now, e.last_seen_ns, t.other_ns);
  auto pair = ct.lookup(pairKeyOf(k, e));
  const uint8_t pair_flags = pair ? pair->flags : 0;
  if ((e.flags | pair_flags) & CT_F_CLOSING) {
    // No pair: nothing left to keep open.
    const bool both = !pair || ((e.flags & pair_flags) & CT_F_CLOSING);
    const uint64_t seen = pair ? std::max(e.last_seen_ns, pair->last_seen_ns) : e.last_seen_ns;
    return idle(now, seen, both ? t.tcp_closing_ns : t.tcp_half_closed_ns);
  }
  if ((e.flags | pair_flags) & CT_F_REPLIED) return idle(now, e.last_seen_ns, t.tcp_established_ns);
  const uint64_t client_seen = k.dir == CT_DIR_REPLY && pair ? pair->last_seen_ns : e.last_seen_ns;
  return idle(now, client_seen, t.tcp_unanswered_ns);
}

uint64_t natTimeout(const flow_key& k, const nat_entry& e, const FlowTimeouts& t) {
  if (k.proto != IPPROTO_TCP) return t.other_ns;
  return (e.flags & NAT_F_CLOSING) ? t.tcp_closing_ns : t.tcp_established_ns;
}

// Judges every entry first and deletes after, so a connection's two entries are judged with
// both present (a deleted client entry would leave its reply entry without its pair's flags).
template <typename M, typename Expired>
Status sweep(M& map, Expired expired, uint64_t& deleted, uint64_t& kept) {
  auto keys = map.keys();
  if (!keys) return keys.status();
  std::vector<typename std::decay_t<decltype(*keys)>::value_type> gone;
  for (const auto& key : *keys) {
    auto value = map.lookup(key);
    if (!value) continue;  // gone meanwhile
    if (expired(key, *value)) {
      gone.push_back(key);
    } else {
      ++kept;
    }
  }
  for (const auto& key : gone) {
    if (map.remove(key)) ++deleted;
  }
  return Status::ok();
}

}  // namespace

Result<uint64_t> forgetConnectionsTo(CtMap& ct, const std::set<BackendRef>& backends) {
  auto keys = ct.keys();
  if (!keys) return keys.status();
  uint64_t forgotten = 0;
  for (const auto& key : *keys) {
    if (key.dir != CT_DIR_SERVICE) continue;
    auto e = ct.lookup(key);
    if (!e) continue;
    const uint32_t addr = ntohl(e->addr);
    const uint16_t port = ntohs(e->port);
    if (!backends.count({addr, port, key.proto}) && !backends.count({addr, port, 0})) continue;
    if (ct.remove(pairKeyOf(key, *e))) ++forgotten;
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
      ct,
      [&](const flow_key& k, const ct_entry& e) { return ctExpired(ct, k, e, now_ns, timeouts); },
      r.ct_deleted, r.ct_kept));
  PETREL_RETURN_IF_ERROR(sweep(
      nat,
      [&](const flow_key& k, const nat_entry& e) {
        return idle(now_ns, e.last_seen_ns, natTimeout(k, e, timeouts));
      },
      r.nat_deleted, r.nat_kept));
  return r;
}

}  // namespace petrel::datapath
