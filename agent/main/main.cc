// petrel-agent: the per-node daemon. Loads the datapath, restores its state, serves the local
// gRPC API on a root-only unix socket and repairs the datapath with periodic full passes.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "agent/api/agent_service.h"
#include "agent/core/endpoint_manager.h"
#include "agent/core/maglev.h"
#include "agent/datapath/endpoint_datapath.h"
#include "agent/datapath/flow_gc.h"
#include "agent/datapath/host_device.h"
#include "agent/datapath/loader.h"
#include "agent/datapath/overlay.h"
#include "agent/datapath/socket_lb.h"
#include "agent/datapath/tc_attach.h"
#include "agent/datapath/uplink.h"
#include "agent/datapath/xdp_attach.h"
#include "agent/k8s/cluster_watch.h"
#include "agent/k8s/tunnel_peers.h"
#include "agent/main/service_lb.h"
#include "agent/main/service_list.h"
#include "agent/main/sync_loop.h"
#include "common/netlink.h"
#include "common/version.h"

namespace {

struct Options {
  std::string node_name;
  std::string pod_cidr;
  std::string bpf_root = "/sys/fs/bpf/petrel";
  std::string state_dir = "/var/run/petrel";
  std::string socket = "/var/run/petrel/petrel.sock";
  uint32_t mtu = 0;  // 0: the underlay's, minus the overlay header when tunnelling
  std::string routing_mode = "tunnel";
  std::string vxlan_mode = "collect-md";
  uint16_t tunnel_port = petrel::datapath::kDefaultVxlanPort;
  std::string cgroup_root;  // "": the cgroup2 mount (mounted at /run/petrel/cgroupv2 if none)
  bool masquerade = true;
  std::string masquerade_ports = "61000-65535";
  uint32_t maglev_table_size = petrel::core::kDefaultMaglevTableSize;
  std::string lb_acceleration = "best-effort";
  uint32_t full_pass_seconds = 30;
  std::string log_level = "info";
  std::string kubeconfig;
};

int fail(const std::string& what) {
  spdlog::critical("{}", what);
  return 1;
}

petrel::Status prepareSocketPath(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::path(path).parent_path();
  if (!dir.empty()) {
    fs::create_directories(dir, ec);
    if (ec) return {petrel::Code::kInternal, "create " + dir.string() + ": " + ec.message()};
  }
  fs::remove(path, ec);  // a stale socket from a killed agent
  return petrel::Status::ok();
}

void fillKubernetesStatus(const petrel::k8s::ClusterWatch& cluster,
                          petrel::api::v1::KubernetesStatus* out) {
  out->set_enabled(true);
  out->set_server(cluster.server());
  bool synced = true;
  for (const auto& s : cluster.status()) {
    auto* c = out->add_caches();
    c->set_kind(s.kind);
    c->set_synced(s.synced);
    c->set_objects(static_cast<uint32_t>(s.objects));
    c->set_rejected(s.rejected);
    c->set_errors(s.stats.errors);
    c->set_last_error(s.stats.last_error);
    c->set_resource_version(s.stats.resource_version);
    c->set_relists(s.stats.relists_after_gone);
    synced = synced && s.synced;
  }
  out->set_synced(synced);
}

// This node's pod CIDR as the API has it: its PetrelNode's first IPv4 spec.ipam.podCIDRs (the
// operator allocates it), else its Node's spec.podCIDR. Waits until one exists; nullopt when a
// stop signal came first.
std::optional<petrel::Ipv4Cidr> waitForPodCidr(const petrel::k8s::ClusterWatch& cluster,
                                               const std::string& node, const sigset_t& stop) {
  auto started = std::chrono::steady_clock::now();
  auto next_log = started;
  for (;;) {
    if (auto pn = cluster.petrelNodes().get(node); pn && !pn->pod_cidrs.empty()) {
      spdlog::info("pod CIDR {} from PetrelNode {}", pn->pod_cidrs.front().toString(), node);
      return pn->pod_cidrs.front();
    }
    if (cluster.petrelNodes().synced()) {
      if (auto n = cluster.nodes().get(node); n) {
        for (const auto& text : n->pod_cidrs) {
          if (auto c = petrel::Ipv4Cidr::parse(text); c && c->prefix_len <= 30) {
            spdlog::info("pod CIDR {} from Node {}", c->toString(), node);
            return c;
          }
        }
      }
    }
    if (std::chrono::steady_clock::now() >= next_log) {
      spdlog::info(
          "waiting for node {}'s pod CIDR from the API (PetrelNode spec.ipam.podCIDRs, "
          "allocated by petrel-operator; or Node spec.podCIDR)",
          node);
      next_log = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
    const timespec poll{0, 100'000'000};
    int sig = sigtimedwait(&stop, nullptr, &poll);
    if (sig == SIGTERM || sig == SIGINT) return std::nullopt;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  opt.node_name = host;

  CLI::App app{"petrel-agent: Petrel's per-node eBPF datapath agent"};
  app.add_option("--node-name", opt.node_name, "Name of this node")->capture_default_str();
  app.add_option("--pod-cidr", opt.pod_cidr,
                 "This node's pod CIDR, e.g. 10.244.0.0/24; default: from the API (this node's "
                 "PetrelNode spec.ipam.podCIDRs, else its Node spec.podCIDR)");
  app.add_option("--bpf-root", opt.bpf_root, "bpffs directory for pinned maps")
      ->capture_default_str();
  app.add_option("--state-dir", opt.state_dir, "Directory for durable agent state")
      ->capture_default_str();
  app.add_option("--socket", opt.socket, "Unix socket of the local API")->capture_default_str();
  app.add_option("--mtu", opt.mtu,
                 "MTU of pod interfaces; default: the default route's device MTU, minus 50 "
                 "in tunnel mode")
      ->check(CLI::Range(576, 65535));
  app.add_option("--routing-mode", opt.routing_mode,
                 "tunnel: other nodes' pods through a VXLAN overlay; native: routes to other "
                 "nodes' pod CIDRs via their node addresses (nodes share a network)")
      ->check(CLI::IsMember({"tunnel", "native"}))
      ->capture_default_str();
  app.add_option("--vxlan-mode", opt.vxlan_mode,
                 "The overlay device in tunnel mode. collect-md: an external device, each "
                 "packet's tunnel key set by BPF with the source identity as the VNI; classic: "
                 "one VNI and a forwarding entry per node, the source identity in the VXLAN-GBP "
                 "policy id")
      ->check(CLI::IsMember({"classic", "collect-md"}))
      ->capture_default_str();
  app.add_option("--tunnel-port", opt.tunnel_port, "UDP port of the VXLAN overlay")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  app.add_option("--cgroup-root", opt.cgroup_root,
                 "cgroup v2 directory whose processes get socket-level Service load balancing; "
                 "default: the cgroup2 mount (mounted at /run/petrel/cgroupv2 when there is "
                 "none)");
  app.add_option("--enable-masquerade", opt.masquerade,
                 "Give pod traffic that leaves the cluster the node's address (BPF, on the "
                 "default route's device)")
      ->capture_default_str();
  app.add_option("--masquerade-port-range", opt.masquerade_ports,
                 "Node ports masqueraded flows get, MIN-MAX; outside the node's own ephemeral "
                 "ports")
      ->capture_default_str();
  app.add_option("--maglev-table-size", opt.maglev_table_size,
                 "Entries of each Maglev table (a prime) used to choose backends for traffic "
                 "from outside")
      ->capture_default_str();
  app.add_option("--lb-acceleration", opt.lb_acceleration,
                 "XDP fast path for Service traffic from outside on the uplink: native "
                 "(required), best-effort (where the driver supports it; not on veths) or "
                 "disabled (tc only)")
      ->check(CLI::IsMember({"native", "best-effort", "disabled"}))
      ->capture_default_str();
  app.add_option("--full-pass-interval", opt.full_pass_seconds,
                 "Seconds between datapath repair passes")
      ->capture_default_str();
  app.add_option("--kubeconfig", opt.kubeconfig,
                 "kubeconfig of the cluster; without it the agent uses in-cluster config when "
                 "KUBERNETES_SERVICE_HOST is set, else runs standalone");
  app.add_option("--log-level", opt.log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  app.set_version_flag("--version",
                       std::string(petrel::kVersion) + " (" + petrel::kGitCommit + ")");
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(opt.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  if (geteuid() != 0)
    return fail("petrel-agent must run as root (it loads BPF programs and configures interfaces)");

  auto masquerade_ports = petrel::datapath::parsePortRange(opt.masquerade_ports);
  if (!masquerade_ports)
    return fail("--masquerade-port-range: " + masquerade_ports.status().message());

  auto lb_acceleration = petrel::datapath::parseLbAcceleration(opt.lb_acceleration);
  if (!lb_acceleration) return fail("--lb-acceleration: " + lb_acceleration.status().message());

  if (auto st = petrel::core::checkMaglevTableSize(opt.maglev_table_size); !st) {
    return fail("--maglev-table-size: " + st.message());
  }

  const bool use_api = !opt.kubeconfig.empty() || std::getenv("KUBERNETES_SERVICE_HOST");
  if (opt.pod_cidr.empty() && !use_api) {
    return fail(
        "no pod CIDR: give --pod-cidr, or --kubeconfig (or run in-cluster) so the agent "
        "can read it from the API");
  }
  std::optional<petrel::Ipv4Cidr> cidr;
  if (!opt.pod_cidr.empty()) {
    cidr = petrel::Ipv4Cidr::parse(opt.pod_cidr);
    if (!cidr || cidr->prefix_len > 30) {
      return fail("--pod-cidr '" + opt.pod_cidr +
                  "' is not an IPv4 network of /30 or larger, e.g. 10.244.0.0/24");
    }
  }

  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::error_code ec;
  std::filesystem::create_directories(opt.state_dir, ec);
  if (ec) return fail("create state dir " + opt.state_dir + ": " + ec.message());

  const bool tunnel = opt.routing_mode == "tunnel";
  const auto overlay_mode = opt.vxlan_mode == "collect-md"
                                ? petrel::datapath::OverlayMode::kCollectMd
                                : petrel::datapath::OverlayMode::kClassic;
  const uint32_t underlay_mtu = petrel::datapath::underlayMtu();
  const uint32_t overlay_mtu = underlay_mtu - petrel::datapath::kVxlanOverhead;
  if (opt.mtu == 0) opt.mtu = tunnel ? overlay_mtu : underlay_mtu;
  petrel::datapath::LoadOptions load_options;
  load_options.maglev_table_size = opt.maglev_table_size;
  if (tunnel) {
    auto ifindex =
        petrel::datapath::ensureOverlayDevice(opt.tunnel_port, overlay_mtu, overlay_mode);
    if (!ifindex) return fail(ifindex.status().toString());
    load_options.tunnel_ifindex = static_cast<uint32_t>(*ifindex);
    load_options.tunnel_collect_md = overlay_mode == petrel::datapath::OverlayMode::kCollectMd;
  } else if (auto st = petrel::datapath::removeOverlayDevice(); !st) {
    return fail(st.toString());
  }
  auto loaded = petrel::datapath::LoadedDatapath::load(opt.bpf_root, load_options);
  if (!loaded) return fail(loaded.status().toString());
  auto& dp = *loaded.value();
  if (tunnel) {
    using petrel::datapath::TcDirection;
    for (auto [fd, dir] : {std::pair{dp.overlayIngressFd(), TcDirection::kIngress},
                           std::pair{dp.overlayEgressFd(), TcDirection::kEgress}}) {
      if (auto st = petrel::datapath::attachTc(load_options.tunnel_ifindex, fd, dir); !st) {
        return fail("attach overlay program to " + std::string(petrel::datapath::kOverlayDevice) +
                    ": " + st.toString());
      }
    }
  }
  int route_ifindex = static_cast<int>(load_options.tunnel_ifindex);
  if (!tunnel) {
    const std::string dev = petrel::datapath::underlayDevice();
    auto nl = petrel::NetlinkSocket::open();
    auto link = nl ? nl->getLink(dev) : petrel::Result<petrel::LinkInfo>(nl.status());
    if (dev.empty() || !link) {
      return fail(
          "native routing needs the device of the default route (" +
          (dev.empty() ? std::string("there is no default route") : link.status().message()) + ")");
    }
    route_ifindex = link->ifindex;
  }
  auto cgroup_root = petrel::datapath::resolveCgroupRoot(opt.cgroup_root);
  if (!cgroup_root) return fail(cgroup_root.status().toString());
  if (auto st = petrel::datapath::attachSocketLb(dp, *cgroup_root); !st) {
    return fail(st.toString());
  }
  std::unique_ptr<petrel::k8s::ClusterWatch> cluster;
  petrel::agent::ServiceLb service_lb(dp, opt.node_name, cluster);
  if (auto st = service_lb.restore(); !st)
    return fail("read the service LB maps: " + st.toString());
  petrel::datapath::BpfTunnelDatapath tunnel_dp(
      dp.tunnels(), route_ifindex, tunnel ? std::optional(overlay_mode) : std::nullopt);
  petrel::agent::SyncLoop tunnel_sync(
      "tunnel routes",
      [&cluster] { return cluster->nodes().synced() && cluster->petrelNodes().synced(); },
      [&] {
        return tunnel_dp.apply(petrel::k8s::tunnelRoutes(cluster->petrelNodes().list(),
                                                         cluster->nodes().list(), opt.node_name));
      });

  if (use_api) {
    auto config = opt.kubeconfig.empty() ? petrel::k8s::loadInCluster()
                                         : petrel::k8s::loadKubeconfig(opt.kubeconfig);
    if (!config) return fail(config.status().toString());
    petrel::k8s::ClusterHandlers handlers;
    auto tunnels_changed = [&tunnel_sync](const auto&) { tunnel_sync.markDirty(); };
    auto node_changed = [&](const petrel::k8s::Node& node) {
      tunnel_sync.markDirty();
      // NodePorts listen on this node's addresses.
      if (node.meta.name == opt.node_name) service_lb.nodeAddressesChanged();
    };
    auto service_changed = [&service_lb](const petrel::k8s::Service& s) {
      service_lb.serviceChanged(s);
    };
    handlers.nodes = {node_changed, node_changed};
    handlers.petrel_nodes = {tunnels_changed, tunnels_changed};
    handlers.services = {service_changed, service_changed};
    handlers.endpoint_slices = {
        [&service_lb](const petrel::k8s::EndpointSlice& s) { service_lb.sliceChanged(s, false); },
        [&service_lb](const petrel::k8s::EndpointSlice& s) { service_lb.sliceChanged(s, true); }};
    cluster = std::make_unique<petrel::k8s::ClusterWatch>(*config, opt.node_name, handlers);
    cluster->start();
    tunnel_sync.start();
    service_lb.start();
    spdlog::info("watching the Kubernetes API at {}", cluster->server());
  }

  if (!cidr) {
    auto found = waitForPodCidr(*cluster, opt.node_name, stop_signals);
    if (!found) return 0;  // stopped while waiting
    cidr = *found;
  }
  if (auto st = petrel::datapath::enableForwarding(); !st) return fail(st.toString());
  std::string masquerade_text = "off";
  std::string service_path_text = "none (no uplink)";  // where traffic from outside is balanced
  auto uplink = petrel::datapath::attachUplink(dp, *cidr, opt.masquerade, *masquerade_ports,
                                               tunnel ? opt.tunnel_port : 0);
  if (!uplink) {
    // Without an uplink there is no outside to masquerade to nor to serve NodePorts on.
    spdlog::warn(
        "{}; until the agent restarts with one, pods' traffic is not masqueraded and "
        "NodePorts and external Service addresses are not served",
        uplink.status().message());
  } else {
    if (opt.masquerade) {
      masquerade_text = fmt::format("to {} on {}, ports {}", uplink->address.toString(),
                                    uplink->device, opt.masquerade_ports);
    }
    auto xdp = petrel::datapath::applyUplinkXdp(uplink->device, uplink->ifindex, dp.uplinkXdpFd(),
                                                *lb_acceleration);
    if (!xdp) return fail(xdp.status().toString());
    service_path_text = *xdp ? "XDP + tc on " + uplink->device : "tc on " + uplink->device;
  }
  if (auto st = petrel::datapath::ensureHostDevice(cidr->at(1)); !st) return fail(st.toString());

  int prog_fd = dp.lxcProgramFd();
  petrel::datapath::BpfEndpointDatapath endpoint_dp(
      dp.endpoints(),
      [prog_fd](uint32_t ifindex) {
        return petrel::datapath::attachTc(ifindex, prog_fd,
                                          petrel::datapath::TcDirection::kIngress);
      },
      petrel::datapath::resolveIfindexByName);
  petrel::core::JsonFileStateStore store(opt.state_dir + "/state.json");
  petrel::core::EndpointManager endpoints(*cidr, opt.mtu, store, endpoint_dp);
  if (auto st = endpoints.restore(); !st) return fail(st.toString());
  auto endpoints_lease = service_lb.useEndpoints(endpoints);
  if (auto st = endpoints.fullPass(); !st) spdlog::warn("initial full pass: {}", st.toString());

  if (auto st = prepareSocketPath(opt.socket); !st) return fail(st.toString());
  petrel::api::AgentInfo info{opt.node_name, opt.bpf_root, nullptr, nullptr};
  if (cluster) {
    info.kubernetes_status = [&cluster](petrel::api::v1::KubernetesStatus* out) {
      fillKubernetesStatus(*cluster, out);
    };
  }
  info.list_services = [&service_lb](petrel::api::v1::ListServicesResponse* out) {
    petrel::agent::fillServiceList(service_lb.datapath(), out);
  };
  petrel::api::AgentService service(endpoints, info);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + opt.socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server)
    return fail("cannot serve the API on unix:" + opt.socket + " (is another agent running?)");
  ::chmod(opt.socket.c_str(), 0600);

  spdlog::info(
      "petrel-agent ready: node {}, pod CIDR {}, pod MTU {}, routing {}, masquerade {}, "
      "NodePort path {}, API unix:{}, maps {}",
      opt.node_name, cidr->toString(), opt.mtu, opt.routing_mode, masquerade_text,
      service_path_text, opt.socket, opt.bpf_root);

  // Wait for a stop signal; on every timeout run a repair pass and collect idle flows.
  const timespec interval{static_cast<time_t>(opt.full_pass_seconds), 0};
  for (;;) {
    int sig = sigtimedwait(&stop_signals, nullptr, &interval);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("signal {}: stopping (pods stay connected; programs and maps remain)", sig);
      break;
    }
    if (auto st = endpoints.fullPass(); !st) spdlog::warn("full pass: {}", st.toString());
    auto gc = petrel::datapath::collectIdleFlows(dp.conntrack(), dp.nat(),
                                                 petrel::datapath::monotonicNowNs());
    if (!gc) {
      spdlog::warn("flow garbage collection: {}", gc.status().toString());
    } else if (gc->ct_deleted + gc->nat_deleted > 0) {
      spdlog::info(
          "flow garbage collection: removed {} conntrack and {} NAT entries idle past "
          "their timeout ({} and {} remain)",
          gc->ct_deleted, gc->nat_deleted, gc->ct_kept, gc->nat_kept);
    }
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  tunnel_sync.stop();
  service_lb.stop();
  if (cluster) cluster->stop();
  std::filesystem::remove(opt.socket, ec);
  return 0;
}
