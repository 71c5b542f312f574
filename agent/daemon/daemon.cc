// Daemon: see daemon.h.
#include "agent/daemon/daemon.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "agent/core/tunnel_peers.h"
#include "agent/daemon/map_status.h"
#include "agent/daemon/service_list.h"
#include "agent/datapath/host_device.h"
#include "agent/datapath/socket_lb.h"
#include "agent/datapath/tc_attach.h"
#include "agent/datapath/uplink.h"
#include "agent/datapath/xdp_attach.h"
#include "common/netlink.h"

namespace petrel::agent {

namespace {

Status prepareSocketPath(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::path(path).parent_path();
  if (!dir.empty()) {
    fs::create_directories(dir, ec);
    if (ec) return {Code::kInternal, "create " + dir.string() + ": " + ec.message()};
  }
  fs::remove(path, ec);  // a stale socket from a killed agent
  return Status::ok();
}

void fillKubernetesStatus(const k8s::ClusterWatch& cluster, api::v1::KubernetesStatus* out) {
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

int64_t unixMs(const std::optional<ReconcilerStatus::Clock::time_point>& t) {
  if (!t) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

void fillReconcilerStatus(const ReconcilerSet& set, api::v1::StatusResponse* out) {
  for (const auto& s : set.status()) {
    auto* r = out->add_reconcilers();
    r->set_name(s.name);
    r->set_ready(s.ready);
    r->set_pending(s.pending);
    r->set_passes(s.passes);
    r->set_failures(s.failures);
    r->set_consecutive_failures(s.consecutive_failures);
    r->set_last_success_unix_ms(unixMs(s.last_success));
    r->set_last_failure_unix_ms(unixMs(s.last_failure));
    r->set_last_error(s.last_error);
  }
}

}  // namespace

Daemon::Daemon(Options options) : opt_(std::move(options)) {}

Daemon::~Daemon() {
  stop();
}

Status Daemon::start(const sigset_t& stop_signals) {
  // Every setting is checked before anything on the node changes.
  auto ports = datapath::parsePortRange(opt_.masquerade_ports);
  if (!ports) return ports.status().withContext("--masquerade-port-range");
  masquerade_ports_ = *ports;
  auto acceleration = datapath::parseLbAcceleration(opt_.lb_acceleration);
  if (!acceleration) return acceleration.status().withContext("--lb-acceleration");
  acceleration_ = *acceleration;
  PETREL_RETURN_IF_ERROR(
      core::checkMaglevTableSize(opt_.maglev_table_size).withContext("--maglev-table-size"));
  if (!opt_.pod_cidr.empty()) {
    cidr_ = Ipv4Cidr::parse(opt_.pod_cidr);
    if (!cidr_ || cidr_->prefix_len > 30) {
      return makeError(Code::kInvalidArgument,
                       "--pod-cidr '{}' is not an IPv4 network of /30 or larger, e.g. "
                       "10.244.0.0/24",
                       opt_.pod_cidr);
    }
  } else if (!opt_.useApi()) {
    return Status(Code::kInvalidArgument,
                  "no pod CIDR: give --pod-cidr, or --kubeconfig (or run in-cluster) so the "
                  "agent can read it from the API");
  }
  std::error_code ec;
  std::filesystem::create_directories(opt_.state_dir, ec);
  if (ec)
    return Status(Code::kInternal, "create state dir " + opt_.state_dir + ": " + ec.message());

  PETREL_RETURN_IF_ERROR(loadDatapath());
  PETREL_RETURN_IF_ERROR(startWatch());
  if (!cidr_) {
    PETREL_RETURN_IF_ERROR(waitForPodCidr(stop_signals));
    if (stopped_) return Status::ok();
  }
  PETREL_RETURN_IF_ERROR(attachNodeDevices());
  PETREL_RETURN_IF_ERROR(startEndpoints());
  reconcilers_.start();
  PETREL_RETURN_IF_ERROR(serveApi());
  spdlog::info(
      "petrel-agent ready: node {}, pod CIDR {}, pod MTU {}, routing {}, masquerade {}, "
      "NodePort path {}, API unix:{}, maps {}",
      opt_.node_name, cidr_->toString(), opt_.mtu, opt_.routing_mode, masquerade_text_,
      service_path_text_, opt_.socket, opt_.bpf_root);
  return Status::ok();
}

Status Daemon::loadDatapath() {
  const uint32_t underlay_mtu = datapath::underlayMtu();
  const uint32_t overlay_mtu = underlay_mtu - datapath::kVxlanOverhead;
  if (opt_.mtu == 0) opt_.mtu = opt_.tunnel() ? overlay_mtu : underlay_mtu;
  datapath::LoadOptions load_options;
  load_options.maglev_table_size = opt_.maglev_table_size;
  if (opt_.tunnel()) {
    overlay_mode_ = opt_.vxlan_mode == "collect-md" ? datapath::OverlayMode::kCollectMd
                                                    : datapath::OverlayMode::kClassic;
    auto ifindex = datapath::ensureOverlayDevice(opt_.tunnel_port, overlay_mtu, *overlay_mode_);
    if (!ifindex) return ifindex.status();
    load_options.tunnel_ifindex = static_cast<uint32_t>(*ifindex);
    load_options.tunnel_collect_md = overlay_mode_ == datapath::OverlayMode::kCollectMd;
  } else {
    PETREL_RETURN_IF_ERROR(datapath::removeOverlayDevice());
  }
  auto loaded = datapath::LoadedDatapath::load(opt_.bpf_root, load_options);
  if (!loaded) return loaded.status();
  dp_ = std::move(*loaded);
  route_ifindex_ = static_cast<int>(load_options.tunnel_ifindex);
  if (opt_.tunnel()) {
    using datapath::TcDirection;
    for (auto [fd, dir] : {std::pair{dp_->overlayIngressFd(), TcDirection::kIngress},
                           std::pair{dp_->overlayEgressFd(), TcDirection::kEgress}}) {
      if (auto st = datapath::attachTc(load_options.tunnel_ifindex, fd, dir); !st) {
        return st.withContext("attach overlay program to " + std::string(datapath::kOverlayDevice));
      }
    }
  } else {
    const std::string dev = datapath::underlayDevice();
    auto nl = NetlinkSocket::open();
    auto link = nl ? nl->getLink(dev) : Result<LinkInfo>(nl.status());
    if (dev.empty() || !link) {
      return Status(
          Code::kFailedPrecondition,
          "native routing needs the device of the default route (" +
              (dev.empty() ? std::string("there is no default route") : link.status().message()) +
              ")");
    }
    route_ifindex_ = link->ifindex;
  }
  auto cgroup_root = datapath::resolveCgroupRoot(opt_.cgroup_root);
  if (!cgroup_root) return cgroup_root.status();
  return datapath::attachSocketLb(*dp_, *cgroup_root);
}

Status Daemon::startWatch() {
  // Flows and the client resetter serve the services reconciler; the flows' repair pass is the
  // periodic garbage collection, in standalone mode too.
  flows_ = std::make_unique<FlowReconciler>(dp_->conntrack(), dp_->nat());
  const ReconcilerOptions every_pass{std::chrono::seconds(opt_.full_pass_seconds)};
  lb_ = std::make_unique<datapath::BpfLbDatapath>(dp_->lbServices(), dp_->lbBackends());
  lb_->enableMaglev(dp_->lbMaglevFd(), dp_->maglevTableSize());
  // Read back what the maps hold: the first pass changes only what differs (and `petrel
  // service list` shows it in standalone mode too).
  PETREL_RETURN_IF_ERROR(lb_->restore().withContext("read the service LB maps"));
  if (!opt_.useApi()) {
    reconcilers_.add(*flows_, every_pass);
    return Status::ok();
  }
  auto config =
      opt_.kubeconfig.empty() ? k8s::loadInCluster() : k8s::loadKubeconfig(opt_.kubeconfig);
  if (!config) return config.status();

  // The handlers reach the reconcilers created below; events flow only after start().
  k8s::ClusterHandlers handlers;
  auto tunnels_changed = [this](const auto&) { tunnel_routes_->markDirty(); };
  auto node_changed = [this](const k8s::Node& node) {
    tunnel_routes_->markDirty();
    if (node.meta.name == opt_.node_name) services_->nodeAddressesChanged();  // NodePorts
  };
  auto service_changed = [this](const k8s::Service& s) { services_->serviceChanged(s); };
  handlers.nodes = {node_changed, node_changed};
  handlers.petrel_nodes = {tunnels_changed, tunnels_changed};
  handlers.services = {service_changed, service_changed};
  handlers.endpoint_slices = {
      [this](const k8s::EndpointSlice& s) { services_->sliceChanged(s, false); },
      [this](const k8s::EndpointSlice& s) { services_->sliceChanged(s, true); }};
  cluster_ = std::make_unique<k8s::ClusterWatch>(*config, opt_.node_name, handlers);

  tunnel_dp_ =
      std::make_unique<datapath::BpfTunnelDatapath>(dp_->tunnels(), route_ifindex_, overlay_mode_);
  tunnel_routes_ = std::make_unique<FnReconciler>(
      "tunnel-routes",
      [this](const ReconcilePass&) {
        return tunnel_dp_->apply(core::tunnelRoutes(cluster_->petrelNodes().list(),
                                                    cluster_->nodes().list(), opt_.node_name));
      },
      [this] { return cluster_->nodes().synced() && cluster_->petrelNodes().synced(); });

  service_inputs_ = std::make_unique<ClusterServiceInputs>(*cluster_, opt_.node_name);
  resetter_ = std::make_unique<ClientResetter>(*flows_, [this] {
    std::vector<std::string> netns;
    for (const auto& ep : endpoints_->list()) netns.push_back(ep.netns);
    return netns;
  });
  services_ =
      std::make_unique<ServiceReconciler>(opt_.node_name, *service_inputs_, *lb_, *resetter_);
  lb_->onBackendRemoved([this](Ipv4Addr ip, uint16_t port, uint8_t proto) {
    services_->backendRemoved(ip, port, proto);
  });

  reconcilers_.add(*tunnel_routes_, every_pass);
  reconcilers_.add(*services_, every_pass);
  reconcilers_.add(*flows_, every_pass);
  cluster_->start();
  spdlog::info("watching the Kubernetes API at {}", cluster_->server());
  return Status::ok();
}

// This node's pod CIDR as the API has it: its PetrelNode's first IPv4 spec.ipam.podCIDRs (the
// operator allocates it), else its Node's spec.podCIDR.
Status Daemon::waitForPodCidr(const sigset_t& stop_signals) {
  auto next_log = std::chrono::steady_clock::now();
  for (;;) {
    if (auto pn = cluster_->petrelNodes().get(opt_.node_name); pn && !pn->pod_cidrs.empty()) {
      spdlog::info("pod CIDR {} from PetrelNode {}", pn->pod_cidrs.front().toString(),
                   opt_.node_name);
      cidr_ = pn->pod_cidrs.front();
      return Status::ok();
    }
    if (cluster_->petrelNodes().synced()) {
      if (auto n = cluster_->nodes().get(opt_.node_name); n) {
        for (const auto& text : n->pod_cidrs) {
          if (auto c = Ipv4Cidr::parse(text); c && c->prefix_len <= 30) {
            spdlog::info("pod CIDR {} from Node {}", c->toString(), opt_.node_name);
            cidr_ = c;
            return Status::ok();
          }
        }
      }
    }
    if (std::chrono::steady_clock::now() >= next_log) {
      spdlog::info(
          "waiting for node {}'s pod CIDR from the API (PetrelNode spec.ipam.podCIDRs, "
          "allocated by petrel-operator; or Node spec.podCIDR)",
          opt_.node_name);
      next_log = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
    const timespec poll{0, 100'000'000};
    int sig = sigtimedwait(&stop_signals, nullptr, &poll);
    if (sig == SIGTERM || sig == SIGINT) {
      stopped_ = true;
      return Status::ok();
    }
  }
}

Status Daemon::attachNodeDevices() {
  PETREL_RETURN_IF_ERROR(datapath::enableForwarding());
  auto uplink = datapath::attachUplink(*dp_, *cidr_, opt_.masquerade, masquerade_ports_,
                                       opt_.tunnel() ? opt_.tunnel_port : 0);
  if (!uplink) {
    // Without an uplink there is no outside to masquerade to nor to serve NodePorts on.
    spdlog::warn(
        "{}; until the agent restarts with one, pods' traffic is not masqueraded and "
        "NodePorts and external Service addresses are not served",
        uplink.status().message());
  } else {
    if (opt_.masquerade) {
      masquerade_text_ = fmt::format("to {} on {}, ports {}", uplink->address.toString(),
                                     uplink->device, opt_.masquerade_ports);
    }
    auto xdp = datapath::applyUplinkXdp(uplink->device, uplink->ifindex, dp_->uplinkXdpFd(),
                                        acceleration_);
    if (!xdp) return xdp.status();
    service_path_text_ = *xdp ? "XDP + tc on " + uplink->device : "tc on " + uplink->device;
  }
  return datapath::ensureHostDevice(cidr_->at(1));
}

Status Daemon::startEndpoints() {
  const int prog_fd = dp_->lxcProgramFd();
  endpoint_dp_ = std::make_unique<datapath::BpfEndpointDatapath>(
      dp_->endpoints(),
      [prog_fd](uint32_t ifindex) {
        return datapath::attachTc(ifindex, prog_fd, datapath::TcDirection::kIngress);
      },
      datapath::resolveIfindexByName);
  store_ = std::make_unique<core::JsonFileStateStore>(opt_.state_dir + "/state.json");
  endpoints_ = std::make_unique<core::EndpointManager>(*cidr_, opt_.mtu, *store_, *endpoint_dp_);
  PETREL_RETURN_IF_ERROR(endpoints_->restore());
  // CNI ADD and DEL write their endpoint through at once (the pod must have its network before
  // the runtime starts it), serialised with this repair pass by the EndpointManager.
  endpoint_repair_ = std::make_unique<FnReconciler>(
      "endpoints", [this](const ReconcilePass&) { return endpoints_->fullPass(); });
  reconcilers_.add(*endpoint_repair_,
                   ReconcilerOptions{std::chrono::seconds(opt_.full_pass_seconds)});
  return Status::ok();
}

Status Daemon::serveApi() {
  PETREL_RETURN_IF_ERROR(prepareSocketPath(opt_.socket));
  api::AgentInfo info{opt_.node_name, opt_.bpf_root, nullptr, nullptr, nullptr, nullptr};
  if (cluster_) {
    info.kubernetes_status = [this](api::v1::KubernetesStatus* out) {
      fillKubernetesStatus(*cluster_, out);
    };
  }
  info.list_services = [this](api::v1::ListServicesResponse* out) { fillServiceList(*lb_, out); };
  info.reconcilers = [this](api::v1::StatusResponse* out) {
    fillReconcilerStatus(reconcilers_, out);
  };
  info.map_pressure = [this](api::v1::StatusResponse* out) { fillMapPressure(opt_.bpf_root, out); };
  service_ = std::make_unique<api::AgentService>(*endpoints_, info);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + opt_.socket, grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_) {
    return Status(Code::kUnavailable,
                  "cannot serve the API on unix:" + opt_.socket + " (is another agent running?)");
  }
  ::chmod(opt_.socket.c_str(), 0600);
  return Status::ok();
}

void Daemon::stop() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
    std::error_code ec;
    std::filesystem::remove(opt_.socket, ec);
  }
  reconcilers_.stop();
  if (cluster_) cluster_->stop();
}

}  // namespace petrel::agent
