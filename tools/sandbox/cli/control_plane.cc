// The real control plane, started from petrel-k8s: PKI, etcd, kube-apiserver, controller
// manager, scheduler.
#include "tools/sandbox/cli/control_plane.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "k8s/cluster_config.h"
#include "k8s/rest_client.h"
#include "tools/sandbox/cli/commands.h"
#include "tools/sandbox/cli/component.h"
#include "tools/sandbox/pki/authority.h"
#include "tools/sandbox/pki/kubeconfig.h"
#include "tools/sandbox/pki/service_account.h"

namespace petrel::sandbox {

using namespace std::chrono_literals;

namespace {

// A TCP port on 127.0.0.1 nothing listens on now (the kernel's choice for port 0).
Result<uint16_t> freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(Code::kInternal, "socket: {}", strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  const int err = errno;
  close(fd);
  if (!ok) return makeError(Code::kInternal, "cannot pick a free port: {}", strerror(err));
  return ntohs(addr.sin_port);
}

std::string pkiDir(const Layout& l) {
  return l.state_dir + "/pki";
}

// A client certificate `name` (CN, groups) and a kubeconfig for it at `kubeconfig`.
Status clientKubeconfig(const pki::Authority& ca, const std::string& name, const std::string& cn,
                        const std::vector<std::string>& groups, const std::string& server,
                        const std::string& kubeconfig) {
  auto pair = ca.issueClient(name, cn, groups);
  if (!pair) return pair.status();
  return pki::writeKubeconfig(kubeconfig, server, ca.caPem(), pair->cert_path, pair->key_path, cn);
}

bool apiReady(const k8s::RestClient& api) {
  auto r = api.get("/readyz", 2s);
  return r && r->status == 200;
}

}  // namespace

Status writeNodeKubeconfigs(const Layout& l, int i) {
  auto ca = pki::Authority::loadOrCreate(pkiDir(l));
  if (!ca) return ca.status();
  const std::string node = l.nodeName(i);
  const std::string server = fmt::format("https://{}:{}", l.hostIp(), l.api_port);
  PETREL_RETURN_IF_ERROR(clientKubeconfig(*ca, "kubelet-" + node, "system:node:" + node,
                                          {"system:nodes"}, server, l.nodeDir(i) + "/kubeconfig"));
  return clientKubeconfig(*ca, "admin", "petrel-sandbox-admin", {"system:masters"}, server,
                          l.nodeDir(i) + "/agent.kubeconfig");
}

Result<ControlPlane> startControlPlane(SandboxState& state, const std::string& bin) {
  const Layout& l = state.layout;
  const std::string pki = pkiDir(l), k8s = bin + "/petrel-k8s";
  ControlPlane cp;
  cp.api_url = fmt::format("https://127.0.0.1:{}", l.api_port);
  cp.node_api_url = fmt::format("https://{}:{}", l.hostIp(), l.api_port);

  step(
      fmt::format("Certificates and kubeconfigs in {} (a CA, one client certificate per "
                  "component, the admin's, each node's)",
                  pki));
  auto ca = pki::Authority::loadOrCreate(pki);
  if (!ca) return ca.status();
  auto serving = ca->issueServing("kube-apiserver",
                                  {"kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                   "kubernetes.default.svc." + l.cluster_domain, "localhost"},
                                  {"127.0.0.1", l.hostIp(), l.apiServiceIp()});
  if (!serving) return serving.status();
  auto sa = pki::serviceAccountKeyPair(pki);
  if (!sa) return sa.status();
  PETREL_RETURN_IF_ERROR(clientKubeconfig(*ca, "admin", "petrel-sandbox-admin", {"system:masters"},
                                          cp.api_url, l.kubeconfig()));
  const std::string kcm_kubeconfig = pki + "/controller-manager.kubeconfig";
  const std::string scheduler_kubeconfig = pki + "/scheduler.kubeconfig";
  PETREL_RETURN_IF_ERROR(clientKubeconfig(
      *ca, "controller-manager", "system:kube-controller-manager", {}, cp.api_url, kcm_kubeconfig));
  PETREL_RETURN_IF_ERROR(clientKubeconfig(*ca, "scheduler", "system:kube-scheduler", {}, cp.api_url,
                                          scheduler_kubeconfig));

  auto etcd_port = freeLoopbackPort();
  auto peer_port = freeLoopbackPort();
  if (!etcd_port) return etcd_port.status();
  if (!peer_port) return peer_port.status();
  cp.etcd_url = fmt::format("http://127.0.0.1:{}", *etcd_port);
  const std::string peer_url = fmt::format("http://127.0.0.1:{}", *peer_port);
  step(fmt::format("etcd on {} (loopback only; data in {}/etcd)", cp.etcd_url, l.state_dir));
  // No fsync: the sandbox's data lives as long as the sandbox, and fsync is most of etcd's
  // write latency (the API server's bootstrap writes a few hundred objects).
  auto etcd =
      launch(state, "etcd", "",
             {k8s, "etcd", "--name=sandbox", "--data-dir=" + l.state_dir + "/etcd",
              "--listen-client-urls=" + cp.etcd_url, "--advertise-client-urls=" + cp.etcd_url,
              "--listen-peer-urls=" + peer_url, "--initial-advertise-peer-urls=" + peer_url,
              "--initial-cluster=sandbox=" + peer_url, "--unsafe-no-fsync", "--log-level=warn"});
  if (!etcd) return etcd.status();

  step(
      fmt::format("kube-apiserver on {} (nodes and pods use {}); RBAC, Node authorization, "
                  "NodeRestriction",
                  cp.api_url, cp.node_api_url));
  const std::string ca_file = ca->certPath().string();
  auto api =
      launch(state, "apiserver", "",
             {k8s, "kube-apiserver", "--etcd-servers=" + cp.etcd_url, "--bind-address=0.0.0.0",
              fmt::format("--secure-port={}", l.api_port),
              // Must not be loopback: it is the kubernetes Service's endpoint, which pods dial.
              "--advertise-address=" + l.hostIp(), "--tls-cert-file=" + serving->cert_path.string(),
              "--tls-private-key-file=" + serving->key_path.string(), "--client-ca-file=" + ca_file,
              "--service-account-key-file=" + sa->public_key_path.string(),
              "--service-account-signing-key-file=" + sa->private_key_path.string(),
              "--service-account-issuer=https://kubernetes.default.svc." + l.cluster_domain,
              "--service-cluster-ip-range=" + l.service_cidr, "--authorization-mode=Node,RBAC",
              "--enable-admission-plugins=NodeRestriction", "--allow-privileged=true",
              "--profiling=false", "--v=1"});
  if (!api) return api.status();

  auto admin = k8s::loadKubeconfig(l.kubeconfig());
  if (!admin) return admin.status();
  k8s::RestClient client(std::move(*admin));
  // Its first start writes the default RBAC roles, priority levels and the kubernetes Service
  // one by one: seconds on an idle machine, a minute or more on a loaded one.
  PETREL_RETURN_IF_ERROR(waitFor(*api, 180s, "ready (/readyz)", [&] { return apiReady(client); }));
  state.api_url = cp.api_url;
  PETREL_RETURN_IF_ERROR(saveState(state));

  auto kcm_port = freeLoopbackPort();
  auto scheduler_port = freeLoopbackPort();
  if (!kcm_port) return kcm_port.status();
  if (!scheduler_port) return scheduler_port.status();
  step(
      "kube-controller-manager (Deployments, ReplicaSets, DaemonSets, EndpointSlices, "
      "namespaces, service accounts, garbage collection, node lifecycle) and kube-scheduler");
  auto kcm = launch(
      state, "controller-manager", "",
      {k8s, "kube-controller-manager", "--kubeconfig=" + kcm_kubeconfig,
       "--authentication-kubeconfig=" + kcm_kubeconfig,
       "--authorization-kubeconfig=" + kcm_kubeconfig, "--bind-address=127.0.0.1",
       fmt::format("--secure-port={}", *kcm_port), "--leader-elect=false",
       "--use-service-account-credentials=true",
       "--service-account-private-key-file=" + sa->private_key_path.string(),
       "--root-ca-file=" + ca_file, "--cluster-signing-cert-file=" + ca_file,
       "--cluster-signing-key-file=" + ca->keyPath().string(),
       "--service-cluster-ip-range=" + l.service_cidr, "--cluster-name=petrel-sandbox", "--v=1"});
  if (!kcm) return kcm.status();
  auto scheduler =
      launch(state, "scheduler", "",
             {k8s, "kube-scheduler", "--kubeconfig=" + scheduler_kubeconfig,
              "--authentication-kubeconfig=" + scheduler_kubeconfig,
              "--authorization-kubeconfig=" + scheduler_kubeconfig, "--bind-address=127.0.0.1",
              fmt::format("--secure-port={}", *scheduler_port), "--leader-elect=false", "--v=1"});
  if (!scheduler) return scheduler.status();
  // Pods cannot be created in a namespace before its default ServiceAccount exists (the
  // ServiceAccount admission plugin refuses them): wait for the controller manager to make it.
  PETREL_RETURN_IF_ERROR(waitFor(*kcm, 60s, "the default ServiceAccount made", [&] {
    auto r = client.get("/api/v1/namespaces/default/serviceaccounts/default", 2s);
    return r && r->status == 200;
  }));
  return cp;
}

}  // namespace petrel::sandbox
