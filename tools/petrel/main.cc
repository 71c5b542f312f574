// petrel: the command-line client. `petrel status|endpoint ...` ask the local agent over its
// unix socket; `petrel bpf ...` read the pinned maps directly, so they work while the agent is
// down. Lists are tables by default, `-o json` for machines.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "agent.grpc.pb.h"
#include "agent/datapath/bpf_map.h"
#include "common/ip.h"
#include "common/reconciler.h"
#include "common/table.h"
#include "common/version.h"
#include "maps.h"
#include "reasons.h"

namespace {

using nlohmann::json;
namespace v1 = petrel::api::v1;

struct Globals {
  std::string socket = "/var/run/petrel/petrel.sock";
  std::string bpf_root = "/sys/fs/bpf/petrel";
  std::string output = "table";
};

std::unique_ptr<v1::Agent::Stub> connect(const Globals& g) {
  auto channel = grpc::CreateChannel("unix:" + g.socket, grpc::InsecureChannelCredentials());
  return v1::Agent::NewStub(channel);
}

std::unique_ptr<grpc::ClientContext> deadline() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return ctx;
}

int rpcFailed(const Globals& g, const grpc::Status& st) {
  if (st.error_code() == grpc::StatusCode::UNAVAILABLE ||
      st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::cerr << "Error: cannot reach petrel-agent at " << g.socket << ": " << st.error_message()
              << "\nIs the agent running on this node? Pinned maps can still be read with "
                 "`petrel bpf endpoint list`.\n";
  } else {
    std::cerr << "Error: " << st.error_message() << "\n";
  }
  return 1;
}

// "Reconcilers: Ok  4/4 in sync" and a row each: what the agent keeps equal to desired state.
void printReconcilers(const v1::StatusResponse& resp) {
  if (resp.reconcilers_size() == 0) return;
  const auto now = petrel::ReconcilerStatus::Clock::now();
  auto ago = [now](int64_t unix_ms) {
    std::optional<petrel::ReconcilerStatus::Clock::time_point> t;
    if (unix_ms != 0)
      t = petrel::ReconcilerStatus::Clock::time_point(std::chrono::milliseconds(unix_ms));
    return petrel::sinceText(t, now);
  };
  int in_sync = 0;
  for (const auto& r : resp.reconcilers()) in_sync += (!r.pending() && r.last_error().empty());
  std::cout << "Reconcilers: " << (in_sync == resp.reconcilers_size() ? "Ok" : "Pending") << "  "
            << in_sync << "/" << resp.reconcilers_size() << " in sync\n";
  petrel::cli::Table t({"  RECONCILER", "STATE", "LAST SUCCESS", "FAILURES", "LAST ERROR"});
  for (const auto& r : resp.reconcilers()) {
    std::string state = !r.ready()                ? "waiting for inputs"
                        : !r.last_error().empty() ? "retrying"
                        : r.pending()             ? "pending"
                                                  : "in sync";
    t.addRow({"  " + r.name(), state, ago(r.last_success_unix_ms()), std::to_string(r.failures()),
              r.last_error().substr(0, 60)});
  }
  t.print(std::cout);
}

// One line per map that can fill up: entries, capacity and what happens when it is full; then
// the agent's writes a full map refused.
void printMapPressure(const v1::StatusResponse& resp) {
  if (!resp.maps_error().empty()) {
    std::cout << "  (cannot read the maps: " << resp.maps_error() << ")\n";
    return;
  }
  petrel::cli::Table t({"  MAP", "ENTRIES", "CAPACITY", "USE", "WHEN FULL", "REFUSED WRITES"});
  for (const auto& m : resp.maps()) {
    const uint64_t percent = m.capacity() ? m.entries() * 100 / m.capacity() : 0;
    std::string use = std::to_string(percent) + "%";
    if (m.capacity() && m.entries() >= m.capacity()) use += " FULL";
    t.addRow({"  " + m.name(), std::to_string(m.entries()), std::to_string(m.capacity()), use,
              m.evicts() ? "evicts oldest" : "refuses new", std::to_string(m.refused_writes())});
  }
  t.print(std::cout);
  for (const auto& m : resp.maps()) {
    if (m.refused_writes()) std::cout << "  last refused: " << m.last_refused() << "\n";
  }
}

int cmdStatus(const Globals& g) {
  v1::StatusResponse resp;
  auto st = connect(g)->Status(deadline().get(), {}, &resp);
  if (!st.ok()) return rpcFailed(g, st);
  if (g.output == "json") {
    json caches = json::array();
    for (const auto& c : resp.kubernetes().caches()) {
      caches.push_back({{"kind", c.kind()},
                        {"synced", c.synced()},
                        {"objects", c.objects()},
                        {"rejected", c.rejected()},
                        {"errors", c.errors()},
                        {"lastError", c.last_error()},
                        {"resourceVersion", c.resource_version()},
                        {"relists", c.relists()}});
    }
    json reconcilers = json::array();
    for (const auto& r : resp.reconcilers()) {
      reconcilers.push_back({{"name", r.name()},
                             {"ready", r.ready()},
                             {"pending", r.pending()},
                             {"passes", r.passes()},
                             {"failures", r.failures()},
                             {"consecutiveFailures", r.consecutive_failures()},
                             {"lastSuccessUnixMs", r.last_success_unix_ms()},
                             {"lastFailureUnixMs", r.last_failure_unix_ms()},
                             {"lastError", r.last_error()}});
    }
    json maps = json::array();
    for (const auto& m : resp.maps()) {
      maps.push_back({{"name", m.name()},
                      {"entries", m.entries()},
                      {"capacity", m.capacity()},
                      {"evicts", m.evicts()},
                      {"refusedWrites", m.refused_writes()},
                      {"lastRefused", m.last_refused()}});
    }
    std::cout << json{{"ready", resp.ready()},
                      {"message", resp.message()},
                      {"version", resp.version()},
                      {"nodeName", resp.node_name()},
                      {"podCIDR", resp.pod_cidr()},
                      {"endpoints", resp.endpoints()},
                      {"ipsAllocated", resp.ips_allocated()},
                      {"ipsTotal", resp.ips_total()},
                      {"bpfRoot", resp.bpf_root()},
                      {"maps", maps},
                      {"mapsError", resp.maps_error()},
                      {"kubernetes",
                       {{"enabled", resp.kubernetes().enabled()},
                        {"server", resp.kubernetes().server()},
                        {"synced", resp.kubernetes().synced()},
                        {"caches", caches}}},
                      {"reconcilers", reconcilers}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << "Agent:      " << (resp.ready() ? "Ok" : "Not ready") << "  " << resp.message()
            << "\n"
            << "Version:    " << resp.version() << "\n"
            << "Node:       " << resp.node_name() << "\n"
            << "Pod CIDR:   " << resp.pod_cidr() << "\n"
            << "IPAM:       " << resp.ips_allocated() << "/" << resp.ips_total() << " allocated\n"
            << "Endpoints:  " << resp.endpoints() << "\n"
            << "BPF maps:   " << resp.bpf_root() << "\n";
  printMapPressure(resp);
  printReconcilers(resp);
  const auto& k = resp.kubernetes();
  if (!k.enabled()) {
    std::cout << "Kubernetes: disabled (standalone: no --kubeconfig and not in a cluster)\n";
    return 0;
  }
  int synced = 0;
  for (const auto& c : k.caches()) synced += c.synced() ? 1 : 0;
  std::cout << "Kubernetes: " << (k.synced() ? "Ok" : "Syncing") << "  " << synced << "/"
            << k.caches_size() << " caches synced, server " << k.server() << "\n";
  petrel::cli::Table t({"  CACHE", "SYNCED", "OBJECTS", "REJECTED", "ERRORS", "LAST ERROR"});
  for (const auto& c : k.caches()) {
    t.addRow({"  " + c.kind(), c.synced() ? "yes" : "no", std::to_string(c.objects()),
              std::to_string(c.rejected()), std::to_string(c.errors()),
              c.last_error().substr(0, 60)});
  }
  t.print(std::cout);
  return 0;
}

int cmdEndpointList(const Globals& g) {
  v1::ListEndpointsResponse resp;
  auto st = connect(g)->ListEndpoints(deadline().get(), {}, &resp);
  if (!st.ok()) return rpcFailed(g, st);
  if (g.output == "json") {
    json out = json::array();
    for (const auto& ep : resp.endpoints()) {
      out.push_back({{"id", ep.id()},
                     {"containerID", ep.attachment().container_id()},
                     {"ifname", ep.attachment().ifname()},
                     {"namespace", ep.pod().namespace_()},
                     {"pod", ep.pod().name()},
                     {"podUID", ep.pod().uid()},
                     {"ipv4", ep.ip()},
                     {"hostInterface", ep.host_ifname()},
                     {"hostIfindex", ep.host_ifindex()},
                     {"hostMAC", ep.host_mac()},
                     {"podMAC", ep.pod_mac()},
                     {"netns", ep.netns()},
                     {"state", ep.state()}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  petrel::cli::Table t({"ENDPOINT", "NAMESPACE", "POD", "IPV4", "INTERFACE", "STATE", "CONTAINER"});
  for (const auto& ep : resp.endpoints()) {
    t.addRow({std::to_string(ep.id()), ep.pod().namespace_(), ep.pod().name(), ep.ip(),
              ep.host_ifname(), ep.state(), ep.attachment().container_id().substr(0, 12)});
  }
  t.print(std::cout);
  return 0;
}

// Every entry of the map pinned at <bpf-root>/<name>; prints why and returns nullopt when the
// pin cannot be read. `hint` follows the standard advice about --bpf-root.
template <typename K, typename V>
std::optional<std::vector<std::pair<K, V>>> readPinned(const Globals& g, const char* name,
                                                       const std::string& hint = "") {
  auto map = petrel::datapath::BpfMap<K, V>::openPinned(g.bpf_root + "/" + name);
  if (!map) {
    std::cerr << "Error: " << map.status().message()
              << "\nIs --bpf-root right? The agent pins its maps there (default "
                 "/sys/fs/bpf/petrel)"
              << hint << ".\n";
    return std::nullopt;
  }
  auto keys = map->keys();
  if (!keys) {
    std::cerr << "Error: " << keys.status().message() << "\n";
    return std::nullopt;
  }
  std::vector<std::pair<K, V>> out;
  for (const auto& key : *keys) {
    if (auto v = map->lookup(key)) out.emplace_back(key, *v);  // else deleted while iterating
  }
  return out;
}

// `-o json` prints `out`, the default the table.
void printList(const Globals& g, const json& out, const petrel::cli::Table& table) {
  if (g.output == "json") {
    std::cout << out.dump(2) << "\n";
  } else {
    table.print(std::cout);
  }
}

// Service frontends and their backends, from the agent (as `cilium service list`): one row per
// backend, the frontend's columns on its first row.
int cmdServiceList(const Globals& g) {
  v1::ListServicesResponse resp;
  auto st = connect(g)->ListServices(deadline().get(), {}, &resp);
  if (!st.ok()) return rpcFailed(g, st);
  json out = json::array();
  petrel::cli::Table t({"ID", "FRONTEND", "TYPE", "SERVICE", "BACKENDS"});
  for (const auto& fe : resp.frontends()) {
    const std::string frontend =
        fe.address() + ":" + std::to_string(fe.port()) + "/" + fe.protocol();
    json backends = json::array();
    std::vector<std::string> lines;
    for (const auto& be : fe.backends()) {
      backends.push_back({{"id", be.id()},
                          {"address", be.address()},
                          {"port", be.port()},
                          {"state", be.state()},
                          {"node", be.node()},
                          {"pod", be.pod()}});
      lines.push_back(std::to_string(be.id()) + " => " + be.address() + ":" +
                      std::to_string(be.port()) + " (" + be.state() + ")");
    }
    if (lines.empty()) lines.push_back("(none: connections are refused)");
    std::string service = fe.service() + (fe.port_name().empty() ? "" : ":" + fe.port_name());
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i == 0) {
        t.addRow({std::to_string(fe.id()), frontend, fe.type(), service, lines[i]});
      } else {
        t.addRow({"", "", "", "", lines[i]});
      }
    }
    out.push_back({{"id", fe.id()},
                   {"frontend", frontend},
                   {"type", fe.type()},
                   {"service", fe.service()},
                   {"portName", fe.port_name()},
                   {"sessionAffinity", fe.session_affinity() ? "ClientIP" : "None"},
                   {"externalTrafficPolicy", fe.external_traffic_policy()},
                   {"internalTrafficPolicy", fe.internal_traffic_policy()},
                   {"backends", backends}});
  }
  printList(g, out, t);
  return 0;
}

int cmdBpfEndpointList(const Globals& g) {
  auto entries = readPinned<endpoint_key, endpoint_info>(g, PETREL_MAP_ENDPOINTS);
  if (!entries) return 1;
  json out = json::array();
  petrel::cli::Table t({"IP", "ENDPOINT", "IFINDEX", "POD MAC", "GATEWAY MAC", "IDENTITY"});
  for (const auto& [key, v] : *entries) {
    std::string ip = petrel::Ipv4Addr::fromNetwork(key.ip4).toString();
    out.push_back({{"ip", ip},
                   {"endpointID", v.endpoint_id},
                   {"ifindex", v.ifindex},
                   {"podMAC", petrel::formatMac(v.pod_mac)},
                   {"hostMAC", petrel::formatMac(v.host_mac)},
                   {"identity", v.identity}});
    t.addRow({ip, std::to_string(v.endpoint_id), std::to_string(v.ifindex),
              petrel::formatMac(v.pod_mac), petrel::formatMac(v.host_mac),
              std::to_string(v.identity)});
  }
  printList(g, out, t);
  return 0;
}

int cmdBpfTunnelList(const Globals& g) {
  auto entries = readPinned<tunnel_key, tunnel_info>(
      g, PETREL_MAP_TUNNEL, "; an agent older than the overlay has no tunnel map");
  if (!entries) return 1;
  json out = json::array();
  petrel::cli::Table t({"POD CIDR", "NODE IP"});
  for (const auto& [key, v] : *entries) {
    if (key.family != PETREL_AF_INET) continue;
    const petrel::Ipv4Cidr cidr{petrel::Ipv4Addr::fromNetwork(key.ip4),
                                static_cast<uint8_t>(key.prefixlen - TUNNEL_KEY_PREFIX_BITS)};
    const std::string node = petrel::Ipv4Addr::fromNetwork(v.ip4).toString();
    out.push_back({{"podCIDR", cidr.toString()}, {"nodeIP", node}});
    t.addRow({cidr.toString(), node});
  }
  printList(g, out, t);
  return 0;
}

std::string protoName(uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP:
      return "TCP";
    case IPPROTO_UDP:
      return "UDP";
    case IPPROTO_ICMP:
      return "ICMP";
  }
  return std::to_string(proto);
}

std::string hostPort(__be32 ip4, __be16 port) {
  return petrel::Ipv4Addr::fromNetwork(ip4).toString() + ":" + std::to_string(ntohs(port));
}

// Masqueraded flows, as `cilium bpf nat list`: each flow's egress entry (pod tuple -> node
// address and port) and ingress entry (reply tuple -> pod), and the inbound UDP flows passed
// untranslated.
int cmdBpfNatList(const Globals& g) {
  auto entries = readPinned<flow_key, nat_entry>(
      g, PETREL_MAP_NAT, "; an agent older than masquerading has no NAT map");
  if (!entries) return 1;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);  // bpf_ktime_get_ns() is this clock
  const uint64_t now_ns = uint64_t(now.tv_sec) * 1000000000ull + uint64_t(now.tv_nsec);
  json out = json::array();
  petrel::cli::Table t(
      {"PROTO", "DIRECTION", "SOURCE", "DESTINATION", "TRANSLATED", "FLAGS", "IDLE"});
  for (const auto& [key, v] : *entries) {
    if (key.family != PETREL_AF_INET) continue;
    const bool pass = v.flags & NAT_F_PASSTHROUGH;
    const std::string dir = pass ? "passthrough" : key.dir == NAT_DIR_EGRESS ? "egress" : "ingress";
    const std::string src = hostPort(key.saddr, key.sport), dst = hostPort(key.daddr, key.dport);
    const std::string to = pass ? "-" : hostPort(v.to_addr, v.to_port);
    const std::string flags = v.flags & NAT_F_CLOSING ? "closing" : "";
    const uint64_t idle_s = now_ns > v.last_seen_ns ? (now_ns - v.last_seen_ns) / 1000000000ull : 0;
    out.push_back({{"proto", protoName(key.proto)},
                   {"direction", dir},
                   {"source", src},
                   {"destination", dst},
                   {"translated", pass ? json(nullptr) : json(to)},
                   {"closing", bool(v.flags & NAT_F_CLOSING)},
                   {"idleSeconds", idle_s}});
    t.addRow({protoName(key.proto), dir, src, dst, to, flags, std::to_string(idle_s) + "s"});
  }
  printList(g, out, t);
  return 0;
}

// Service connections the packet-level load balancer tracks, as `cilium bpf ct list global`:
// per connection the client's entry (-> the backend) and the backend's (-> the frontend).
int cmdBpfCtList(const Globals& g) {
  auto entries = readPinned<flow_key, ct_entry>(
      g, PETREL_MAP_CT, "; an agent older than packet-level Service LB has no conntrack map");
  if (!entries) return 1;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);  // bpf_ktime_get_ns() is this clock
  const uint64_t now_ns = uint64_t(now.tv_sec) * 1000000000ull + uint64_t(now.tv_nsec);
  json out = json::array();
  petrel::cli::Table t(
      {"PROTO", "DIRECTION", "SOURCE", "DESTINATION", "TRANSLATED", "SERVICE ID", "FLAGS", "IDLE"});
  for (const auto& [key, v] : *entries) {
    if (key.family != PETREL_AF_INET) continue;
    const std::string dir = key.dir == CT_DIR_SERVICE ? "service" : "reply";
    const std::string src = hostPort(key.saddr, key.sport), dst = hostPort(key.daddr, key.dport);
    const std::string to = hostPort(v.addr, v.port);
    std::vector<std::string> flags;
    if (v.flags & CT_F_REPLIED) flags.push_back("replied");
    if (v.flags & CT_F_CLOSING) flags.push_back("closing");
    if (v.flags & CT_F_SNAT) flags.push_back("snat");
    std::string flag_text;
    for (const auto& f : flags) flag_text += (flag_text.empty() ? "" : ",") + f;
    const uint64_t idle_s = now_ns > v.last_seen_ns ? (now_ns - v.last_seen_ns) / 1000000000ull : 0;
    out.push_back({{"proto", protoName(key.proto)},
                   {"direction", dir},
                   {"source", src},
                   {"destination", dst},
                   {"translated", to},
                   {"serviceID", v.service_id},
                   {"flags", flags},
                   {"idleSeconds", idle_s}});
    t.addRow({protoName(key.proto), dir, src, dst, to, std::to_string(v.service_id), flag_text,
              std::to_string(idle_s) + "s"});
  }
  printList(g, out, t);
  return 0;
}

const char* lbKindName(uint8_t kind) {
  switch (kind) {
#define PETREL_LB_KIND_CASE(name, cxx_name, value, text) \
  case LB_KIND_##name:                                   \
    return text;
    PETREL_LB_KINDS(PETREL_LB_KIND_CASE)
#undef PETREL_LB_KIND_CASE
  }
  return "?";
}

// The service and backend maps as the programs read them (as `cilium bpf lb list`): per
// frontend its master entry (slot 0) and each slot's backend.
int cmdBpfLbList(const Globals& g) {
  auto services = readPinned<lb_service_key, lb_service_value>(
      g, PETREL_MAP_LB_SERVICES, "; an agent older than service load balancing has no LB maps");
  if (!services) return 1;
  auto backend_entries = readPinned<uint32_t, lb_backend>(g, PETREL_MAP_LB_BACKENDS);
  if (!backend_entries) return 1;
  std::map<uint32_t, lb_backend> backends(backend_entries->begin(), backend_entries->end());
  auto order = [](const auto& a, const auto& b) {
    return std::tuple(ntohl(a.first.address), ntohs(a.first.port), a.first.proto, a.first.slot) <
           std::tuple(ntohl(b.first.address), ntohs(b.first.port), b.first.proto, b.first.slot);
  };
  std::sort(services->begin(), services->end(), order);
  json out = json::array();
  petrel::cli::Table t({"FRONTEND", "SLOT", "BACKEND", "INFO"});
  for (const auto& [key, v] : *services) {
    const std::string frontend = hostPort(key.address, key.port) + "/" + protoName(key.proto);
    if (key.slot == 0) {
      std::string info = std::string(lbKindName(v.kind)) + ", " + std::to_string(v.count) +
                         " backends, service id " + std::to_string(v.service_id);
      if (v.flags & LB_SVC_F_AFFINITY)
        info += ", affinity " + std::to_string(v.affinity_timeout) + "s";
      if (v.flags & LB_SVC_F_EXTERNAL_LOCAL) info += ", external Local";
      if (v.flags & LB_SVC_F_INTERNAL_LOCAL) info += ", internal Local";
      if (v.flags & LB_SVC_F_TERMINATING_ONLY) info += ", terminating only";
      if (v.flags & LB_SVC_F_REMOTE_ONLY) info += ", endpoints only on other nodes";
      out.push_back({{"frontend", frontend},
                     {"slot", 0},
                     {"type", lbKindName(v.kind)},
                     {"count", v.count},
                     {"serviceID", v.service_id},
                     {"flags", v.flags}});
      t.addRow({frontend, "0", "-", info});
      continue;
    }
    auto it = backends.find(v.backend_id);
    const std::string backend =
        it == backends.end() ? "(missing)" : hostPort(it->second.address, it->second.port);
    const bool terminating = it != backends.end() && (it->second.flags & LB_BACKEND_F_TERMINATING);
    out.push_back({{"frontend", frontend},
                   {"slot", key.slot},
                   {"backendID", v.backend_id},
                   {"backend", backend},
                   {"terminating", terminating}});
    t.addRow({frontend, std::to_string(key.slot), std::to_string(v.backend_id) + " => " + backend,
              terminating ? "terminating" : ""});
  }
  printList(g, out, t);
  return 0;
}

const char* reasonName(uint32_t reason) {
  switch (reason) {
#define PETREL_REASON_CASE(name, value, text) \
  case value:                                 \
    return text;
    PETREL_REASONS(PETREL_REASON_CASE)
#undef PETREL_REASON_CASE
  }
  return nullptr;
}

int cmdBpfMetricsList(const Globals& g) {
  const std::string path = g.bpf_root + "/" PETREL_MAP_METRICS;
  petrel::UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd) {
    std::cerr << "Error: open pinned map " << path << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  json out = json::array();
  petrel::cli::Table t({"REASON", "DIRECTION", "PACKETS", "BYTES"});
  for (uint32_t reason = 0; reason < PETREL_REASON_MAX; ++reason) {
    const char* name = reasonName(reason);
    if (!name) continue;
    for (uint32_t dir = 0; dir < METRIC_DIR_MAX; ++dir) {
      auto values = petrel::datapath::lookupPerCpu<metric_value>(
          fd.get(), reason * METRIC_DIR_MAX + dir, path);
      if (!values) {
        std::cerr << "Error: " << values.status().message() << "\n";
        return 1;
      }
      uint64_t packets = 0, bytes = 0;
      for (const auto& v : *values) {
        packets += v.packets;
        bytes += v.bytes;
      }
      if (packets == 0) continue;
      const char* direction = dir == METRIC_DIR_EGRESS ? "egress" : "ingress";
      out.push_back({{"reason", name},
                     {"drop", PETREL_IS_DROP(reason)},
                     {"direction", direction},
                     {"packets", packets},
                     {"bytes", bytes}});
      t.addRow({name, direction, std::to_string(packets), std::to_string(bytes)});
    }
  }
  if (g.output == "json") {
    std::cout << out.dump(2) << "\n";
  } else {
    t.print(std::cout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Globals g;
  CLI::App app{"petrel: inspect and operate the Petrel datapath on this node"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand, as in kubectl
  app.add_option("--socket", g.socket, "Agent API socket")->capture_default_str();
  app.add_option("--bpf-root", g.bpf_root, "bpffs directory of the pinned maps")
      ->capture_default_str();
  auto add_output = [&](CLI::App* cmd) {
    cmd->add_option("-o,--output", g.output, "Output format: table|json")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
  };

  // Every `petrel [bpf] NOUN list` command: the noun, its `list` and the handler that runs it.
  using Handler = int (*)(const Globals&);
  std::vector<std::pair<CLI::App*, Handler>> lists;
  auto add_list = [&](CLI::App* parent, const char* noun, const char* about, const char* list_about,
                      Handler handler) {
    auto* cmd = parent->add_subcommand(noun, about);
    cmd->require_subcommand(1);
    auto* list = cmd->add_subcommand("list", list_about);
    add_output(list);
    lists.emplace_back(list, handler);
  };

  auto* version = app.add_subcommand("version", "Print the client version");
  auto* status = app.add_subcommand("status", "Show the local agent's health and IPAM usage");
  add_output(status);
  add_list(&app, "endpoint", "Pods attached on this node (from the agent)", "List endpoints",
           cmdEndpointList);
  add_list(&app, "service", "Service frontends and backends (from the agent)",
           "List Service frontends", cmdServiceList);
  auto* bpf =
      app.add_subcommand("bpf", "Read pinned BPF maps directly (works while the agent is down)");
  bpf->require_subcommand(1);
  add_list(bpf, "endpoint", "The endpoint map", "List the endpoint map", cmdBpfEndpointList);
  add_list(bpf, "tunnel", "The tunnel map: other nodes' pod CIDRs", "List the tunnel map",
           cmdBpfTunnelList);
  add_list(bpf, "lb", "The service load-balancing maps", "List frontends, slots and backends",
           cmdBpfLbList);
  add_list(bpf, "ct", "The conntrack map: Service connections from outside",
           "List the conntrack map", cmdBpfCtList);
  add_list(bpf, "nat", "The NAT map: masqueraded flows", "List the NAT map", cmdBpfNatList);
  add_list(bpf, "metrics", "Datapath counters by reason", "List non-zero counters",
           cmdBpfMetricsList);

  CLI11_PARSE(app, argc, argv);

  if (version->parsed()) {
    std::cout << "petrel " << petrel::kVersion << " (commit " << petrel::kGitCommit << ")\n";
    return 0;
  }
  if (status->parsed()) return cmdStatus(g);
  for (const auto& [list, handler] : lists) {
    if (list->parsed()) return handler(g);
  }
  return 1;
}
