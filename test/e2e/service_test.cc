// End-to-end: Services through Petrel's socket-level load balancer in a 2-node sandbox, with
// real clients (curl, socat) running as a pod would: in the pod's network namespace and its
// node's cgroup. ClusterIP over TCP and UDP reaches backends on both nodes, a named targetPort
// is resolved per pod, the application sees the Service address as its peer, a dual-stack IPv6
// socket reaches it through the IPv4-mapped address, the node itself uses Services,
// sessionAffinity ClientIP sticks, internalTrafficPolicy Local stays on the node, a pod reaches
// itself through its Service, a deleted backend stops getting connections, and an agent restart
// under load fails no request. A Service without endpoints refuses at once, from a pod and from
// outside (NodePort, externalIP; TCP and UDP).
//
// With EndpointSlices written by the test (Services without a selector): a serving terminating
// endpoint gets new connections only when no endpoint is ready, a connection to an endpoint that
// turns terminating goes on, and one to an endpoint removed from the slice is reset at once
// instead of hanging, from a pod and from outside.
//
// From outside (the underlay namespace): NodePort over TCP and UDP reaches backends on both
// nodes, externalTrafficPolicy Local keeps the client's address and the node's own backends,
// large answers arrive whole (their GSO packets forwarded by the FIB), an externalIP and a
// LoadBalancer address (from the Service's status) routed to a node are served, `petrel bpf ct
// list` shows the tracked connections (and, with `petrel bpf lb list`, answers from the pins
// while the agent is down), and a backend's ICMP error (UDP port unreachable), on node-1 or
// behind its source NAT on node-2, reaches the client from the frontend.
//
// Needs root, kubectl, curl, socat.
#include <signal.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "test/e2e/harness.h"
#include "test/e2e/sandbox_cluster.h"

namespace petrel::e2e {
namespace {

using nlohmann::json;

// A petrel-workload pod on `node` labelled app=<app>, serving HTTP on `http_port` (named "web").
std::string backendPod(const std::string& name, const std::string& node, const std::string& app,
                       int http_port = 8080) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", labels: {app: " + app +
         "}}\nspec:\n  nodeName: " + node +
         "\n  containers:\n  - name: main\n    image: petrel/workload\n    command: [" +
         (binDir() / "petrel-workload").string() + ", --name, " + name + ", --http-port, '" +
         std::to_string(http_port) +
         "']\n    ports: [{name: web, containerPort: " + std::to_string(http_port) +
         "}]\n    readinessProbe: {httpGet: {path: /healthz, port: web}, periodSeconds: 1}\n---\n";
}

std::string service(const std::string& name, const std::string& app,
                    const std::string& extra_spec = "") {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name +
         "}\nspec:\n  selector: {app: " + app +
         "}\n  ports:\n  - {name: http, port: 80, targetPort: web}\n  - {name: udp, port: "
         "53, targetPort: 9001, protocol: UDP}\n" +
         extra_spec + "---\n";
}

// A Service without a selector: TCP port 90, named "tcp", whose EndpointSlice the test writes.
std::string manualService(const std::string& name, const std::string& type = "ClusterIP",
                          const std::string& extra_spec = "") {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + "}\nspec:\n  type: " + type +
         "\n  ports: [{name: tcp, port: 90, targetPort: 9000}]\n" + extra_spec + "---\n";
}

// One endpoint of a slice written by the test: a backend pod and its conditions.
struct SliceEndpoint {
  std::string pod;
  std::string ip;
  std::string node;
  bool ready = true;
  bool serving = true;
  bool terminating = false;
};

// The EndpointSlice `name` of Service `service`: port "tcp" = 9000 (petrel-workload's TCP
// greeting+echo port) on each endpoint.
std::string manualSlice(const std::string& name, const std::string& service,
                        const std::vector<SliceEndpoint>& endpoints) {
  auto b = [](bool v) { return v ? std::string("true") : std::string("false"); };
  std::string yaml =
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " + name +
      "\n  labels: {kubernetes.io/service-name: " + service +
      "}\naddressType: IPv4\nports: [{name: tcp, port: 9000, protocol: TCP}]\n" +
      "endpoints:" + (endpoints.empty() ? " []\n" : "\n");
  for (const auto& e : endpoints) {
    yaml += "- addresses: [" + e.ip + "]\n  nodeName: " + e.node +
            "\n  targetRef: {kind: Pod, namespace: default, name: " + e.pod +
            "}\n  conditions: {ready: " + b(e.ready) + ", serving: " + b(e.serving) +
            ", terminating: " + b(e.terminating) + "}\n";
  }
  return yaml + "---\n";
}

// A bash client that holds one TCP connection to ip:port open: prints the greeting (the
// backend's name), then sends a line every 100 ms and prints each echo with a timestamp. A
// failed write or read (3 s timeout) is printed and ends it, with status 2 or 3.
// clang-format off
constexpr const char* kLongLivedClient = R"sh(ip=$1 port=$2
exec 3<>/dev/tcp/$ip/$port || { echo connect-failed; exit 1; }
read -t 3 greeting <&3 || { echo greeting-failed; exit 1; }
echo "greeting $greeting"
i=0
while true; do
  i=$((i+1))
  echo "ping $i" >&3 || { echo "write-failed at $(date +%s.%N)"; exit 2; }
  read -t 3 line <&3
  rc=$?
  [ $rc -eq 0 ] || { echo "read-failed rc=$rc at $(date +%s.%N)"; exit 3; }
  echo "echo $line at $(date +%s.%N)"
  sleep 0.1
done
)sh";
// clang-format on

class Services : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireBasics());
    for (const char* tool : {"kubectl", "curl", "socat"}) ASSERT_TRUE(requireTool(tool));
    ASSERT_TRUE(requireFile(binDir() / "petrel-sandbox", "build it with scripts/build.sh"));
    ASSERT_TRUE(sb_.up(2));
    ASSERT_TRUE(sb_.apply(backendPod("web-1", "node-1", "web") +
                          backendPod("web-2", "node-2", "web", 8081) +
                          backendPod("web-3", "node-2", "web") +
                          backendPod("client", "node-1", "client") + service("web", "web")));
    ASSERT_TRUE(sb_.waitReady({"web-1", "web-2", "web-3", "client"}));
    cluster_ip_ = sb_.kubectlJson({"get", "service", "web"})["spec"]["clusterIP"];
    ASSERT_TRUE(waitBackends(cluster_ip_, 3));
  }
  // `script` as the client pod runs it: its network namespace, node-1's cgroup.
  CmdResult inClient(const std::string& script, Millis timeout = 30s) {
    const std::string netns = sb_.podNetns()["client"];
    return run({"sh", "-c",
                "echo $$ > " + sb_.cgroupRoot() +
                    "/node-1/cgroup.procs && exec nsenter --net=/run/netns/" + netns + " sh -c '" +
                    script + "'"},
               {.timeout = timeout});
  }
  std::string get(const std::string& url) { return trim(inClient("curl -s -m 3 " + url).out); }
  // Waits until node-1's agent lists `count` backends for ip:port/proto.
  ::testing::AssertionResult waitBackends(const std::string& ip, size_t count, int port = 80,
                                          const std::string& proto = "TCP") {
    std::string last;
    for (int i = 0; i < 100; ++i) {
      auto r = run({(binDir() / "petrel").string(), "service", "list", "-o", "json", "--socket",
                    sb_.agentSocket(1)});
      last = r.out;
      json list = json::parse(r.out, nullptr, false);
      for (const auto& f : list.is_array() ? list : json::array()) {
        if (f["frontend"] == ip + ":" + std::to_string(port) + "/" + proto &&
            f["backends"].size() == count)
          return ::testing::AssertionSuccess();
      }
      std::this_thread::sleep_for(100ms);
    }
    return ::testing::AssertionFailure() << "no " << count << " backends for " << ip << ":\n"
                                         << last;
  }
  std::set<std::string> namesSeen(const std::string& ip, int requests) {
    std::set<std::string> seen;
    for (int i = 0; i < requests; ++i) seen.insert(get("http://" + ip + "/"));
    return seen;
  }
  // The names greeting `connections` new TCP connections from the client to ip:90 (one
  // half-closed connection each; "" for one that got no greeting).
  std::multiset<std::string> greetings(const std::string& ip, int connections) {
    auto r = inClient("for i in $(seq " + std::to_string(connections) +
                      "); do echo \"[$(socat -T 2 " + "- TCP:" + ip + ":90 </dev/null)]\"; done");
    std::multiset<std::string> out;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.size() >= 2) out.insert(trim(line.substr(1, line.size() - 2)));
    }
    return out;
  }
  // kLongLivedClient run by the client pod against ip:90, or from outside (the underlay
  // namespace) against ip:port, logging to <state dir>/<name>.log.
  std::unique_ptr<BackgroundProcess> startLongLivedClient(const std::string& name,
                                                          const std::string& ip) {
    return std::make_unique<BackgroundProcess>(
        sb_.asPodOn(1, sb_.podNetns()["client"],
                    "exec bash " + longLivedScript(name) + " " + ip + " 90"),
        sb_.stateDir() + "/" + name + ".log");
  }
  std::unique_ptr<BackgroundProcess> startOutsideClient(const std::string& name,
                                                        const std::string& ip, int port) {
    return std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"nsenter", "--net=/run/netns/" + sb_.underlayNetns(), "bash",
                                 longLivedScript(name), ip, std::to_string(port)},
        sb_.stateDir() + "/" + name + ".log");
  }
  std::string longLivedScript(const std::string& name) {
    const std::string script = sb_.stateDir() + "/" + name + ".sh";
    std::ofstream(script) << kLongLivedClient;
    return script;
  }
  // Waits (5 s) for the long-lived `client` to end by a failed write or read, not its own 3 s
  // read timeout, within 3 s of `since`.
  static void expectResetSince(BackgroundProcess& client, const std::string& held,
                               std::chrono::steady_clock::time_point since) {
    auto status = client.wait(5s);
    auto took = std::chrono::steady_clock::now() - since;
    ASSERT_TRUE(status.has_value())
        << "the connection to removed " << held << " still works 5 s later:\n"
        << client.log();
    EXPECT_TRUE(*status == 2 || *status == 3) << "status " << *status << "\n" << client.log();
    // bash says rc>128 for a read timeout.
    EXPECT_TRUE(client.log().find("write-failed") != std::string::npos ||
                client.log().find("read-failed rc=1 ") != std::string::npos)
        << client.log();
    EXPECT_LT(took, 3s) << client.log();
  }
  // The backend that greeted the long-lived client ("" when none did within 5 s).
  static std::string greetedBy(BackgroundProcess& client) {
    std::string name;
    waitUntil(
        [&] {
          const std::string log = client.log();
          auto at = log.find("greeting ");
          if (at == std::string::npos) return false;
          name = log.substr(at + 9, log.find('\n', at) - at - 9);
          return true;
        },
        5s);
    return name;
  }
  static size_t echoes(const BackgroundProcess& client) {
    const std::string log = client.log();
    size_t n = 0;
    for (auto at = log.find("echo ping"); at != std::string::npos;
         at = log.find("echo ping", at + 1))
      ++n;
    return n;
  }
  // Node-1's uplink computes transmit checksums itself: a packet the datapath built from one
  // with an offloaded checksum (a local client's) reaches the outside with its checksum
  // completed and checked there, where over a veth it would be trusted unchecked.
  void completeChecksumsOfNode1() {
    auto r = run(
        {"ip", "netns", "exec", sb_.prefix() + "-node-1", "ethtool", "-K", "eth0", "tx", "off"});
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  // The longest time between two echoes the long-lived `client` printed, in seconds.
  static double longestEchoGap(const BackgroundProcess& client) {
    std::istringstream lines(client.log());
    double last = 0, longest = 0;
    for (std::string line; std::getline(lines, line);) {
      auto at = line.rfind(" at ");
      if (line.rfind("echo ping", 0) != 0 || at == std::string::npos) continue;
      const double t = std::stod(line.substr(at + 4));
      if (last > 0) longest = std::max(longest, t - last);
      last = t;
    }
    return longest;
  }
  std::map<std::string, SliceEndpoint> webEndpoints() {
    auto pods = sb_.pods();
    std::map<std::string, SliceEndpoint> out;
    for (const char* name : {"web-1", "web-2", "web-3"}) {
      out[name] = {name, pods[name]["status"]["podIP"], pods[name]["spec"]["nodeName"]};
    }
    return out;
  }

  Sandbox sb_;
  std::string cluster_ip_;
};

TEST_F(Services, ClusterIpBalancesTcpAndUdpOverBackendsOnBothNodes) {
  // web-2 serves on 8081: the named targetPort "web" is resolved per pod.
  EXPECT_EQ(namesSeen(cluster_ip_, 30), (std::set<std::string>{"web-1", "web-2", "web-3"}));
  auto udp = inClient("echo hi | socat -t 2 - UDP:" + cluster_ip_ + ":53");
  EXPECT_NE(udp.out.find(" hi"), std::string::npos) << udp.describe();
  // The application's peer is the Service address (getpeername), not the backend's.
  auto peer = inClient("curl -s -m 3 -o /dev/null -w %{remote_ip}:%{remote_port} http://" +
                       cluster_ip_ + "/");
  EXPECT_EQ(trim(peer.out), cluster_ip_ + ":80") << peer.describe();
  // A dual-stack IPv6 socket (as Java's are) reaches it through the IPv4-mapped address.
  auto mapped = inClient("curl -s -m 3 -w \" %{remote_ip}\" http://[::ffff:" + cluster_ip_ + "]/");
  EXPECT_EQ(mapped.out.rfind("web-", 0), 0u) << mapped.describe();
  EXPECT_NE(mapped.out.find(" ::ffff:" + cluster_ip_), std::string::npos) << mapped.describe();
  // The node uses Services too (petrel-sandbox exec: node-1's namespace and cgroup).
  auto node =
      sb_.cli({"exec", "node-1", "--", "curl", "-s", "-m", "3", "http://" + cluster_ip_ + "/"});
  EXPECT_TRUE(node.ok()) << node.describe();
  EXPECT_EQ(node.out.rfind("web-", 0), 0u) << node.out;
  // petrel service list names the backends by pod.
  auto list =
      run({(binDir() / "petrel").string(), "service", "list", "--socket", sb_.agentSocket(1)});
  EXPECT_NE(list.out.find("default/web:http"), std::string::npos) << list.out;
}

// Refused at once, as kube-proxy's reject rule does: from a pod (the socket layer) and from
// outside, TCP and UDP, at a NodePort and at an externalIP, which is not the node's own address
// (the stack would forward a packet for it on instead of answering).
TEST_F(Services, AServiceWithoutEndpointsRefusesAtOnce) {
  ASSERT_TRUE(sb_.apply(
      service("nobody", "nothing-matches", "  type: NodePort\n  externalIPs: [203.0.113.20]\n")));
  const json svc = sb_.kubectlJson({"get", "service", "nobody"});
  const std::string ip = svc["spec"]["clusterIP"];
  const std::string node_port = std::to_string(svc["spec"]["ports"][0]["nodePort"].get<int>());
  ASSERT_TRUE(waitBackends(ip, 0));
  ASSERT_TRUE(waitBackends("203.0.113.20", 0));
  ASSERT_TRUE(waitBackends("203.0.113.20", 0, 53, "UDP"));
  auto refusedAtOnce = [](const std::function<CmdResult()>& attempt, const std::string& refused) {
    auto start = std::chrono::steady_clock::now();
    CmdResult r = attempt();
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_NE((r.out + r.err).find(refused), std::string::npos) << r.describe();
    EXPECT_LT(took, 2s) << r.describe();
  };
  refusedAtOnce([&] { return inClient("curl -s -m 5 http://" + ip + "/; echo exit=$?"); },
                "exit=7");  // connection refused

  const std::string outside = sb_.underlayNetns();
  ASSERT_TRUE(
      run({"ip", "-n", outside, "route", "add", "203.0.113.20/32", "via", sb_.nodeIp(1)}).ok());
  completeChecksumsOfNode1();
  for (const std::string& target : {sb_.nodeIp(1) + ":" + node_port, std::string("203.0.113.20")}) {
    SCOPED_TRACE(target);
    refusedAtOnce(
        [&] { return inNetns(outside, "curl -s -m 5 http://" + target + "/; echo exit=$?"); },
        "exit=7");
  }
  refusedAtOnce([&] { return inNetns(outside, "echo hi | socat -t 4 - UDP:203.0.113.20:53"); },
                "Connection refused");
  EXPECT_GE(sb_.datapathCount(1, "service-rejected"), 2u);  // the externalIP's; the stack the rest
}

TEST_F(Services, SessionAffinityAndInternalTrafficPolicyLocal) {
  ASSERT_TRUE(sb_.apply(service("sticky", "web", "  sessionAffinity: ClientIP\n") +
                        service("local", "web", "  internalTrafficPolicy: Local\n")));
  const std::string sticky = sb_.kubectlJson({"get", "service", "sticky"})["spec"]["clusterIP"];
  const std::string local = sb_.kubectlJson({"get", "service", "local"})["spec"]["clusterIP"];
  ASSERT_TRUE(waitBackends(sticky, 3));
  ASSERT_TRUE(waitBackends(local, 1));  // node-1 has one backend
  EXPECT_EQ(namesSeen(sticky, 15).size(), 1u);
  EXPECT_EQ(namesSeen(local, 10), (std::set<std::string>{"web-1"}));
  // Hairpin: web-1 reaches itself through the Service (its only node-local backend).
  auto self = run({"sh", "-c",
                   "echo $$ > " + sb_.cgroupRoot() +
                       "/node-1/cgroup.procs && exec nsenter --net=/run/netns/" +
                       sb_.podNetns()["web-1"] + " curl -s -m 3 http://" + local + "/"});
  EXPECT_EQ(trim(self.out), "web-1") << self.describe();
}

TEST_F(Services, ADeletedBackendGetsNoNewConnections) {
  ASSERT_TRUE(sb_.kubectl({"delete", "pod", "web-3", "--wait=false"}).ok());
  ASSERT_TRUE(waitBackends(cluster_ip_, 2));
  EXPECT_EQ(namesSeen(cluster_ip_, 20), (std::set<std::string>{"web-1", "web-2"}));
}

TEST_F(Services, AgentRestartUnderLoadFailsNoRequest) {
  BackgroundProcess load(
      {"sh", "-c",
       "echo $$ > " + sb_.cgroupRoot() + "/node-1/cgroup.procs && exec nsenter --net=/run/netns/" +
           sb_.podNetns()["client"] +
           " sh -c 'ok=0; fail=0; for i in $(seq 1 80); do if curl -s -m 2 -o /dev/null http://" +
           cluster_ip_ +
           "/; then ok=$((ok+1)); else fail=$((fail+1)); fi; echo request $i; sleep 0.05; done; "
           "echo ok=$ok fail=$fail'"},
      sb_.stateDir() + "/load.log");
  // The restart comes once the load runs: after its fifth request.
  ASSERT_TRUE(waitUntil([&] { return load.log().find("request 5\n") != std::string::npos; }, 10s))
      << load.log();
  auto restart = sb_.cli({"restart", "node-1/agent"});
  ASSERT_TRUE(restart.ok()) << restart.describe();
  ASSERT_TRUE(load.wait(60s).has_value()) << load.log();
  EXPECT_NE(load.log().find("ok=80 fail=0"), std::string::npos) << load.log();
  EXPECT_EQ(namesSeen(cluster_ip_, 20).size(), 3u);  // and it goes on balancing afterwards
}

// Established connections through Services go on while the agent restarts (programs, maps and
// conntrack stay pinned): a pod's through the socket layer, and from outside at a NodePort to a
// backend on the node and to one behind its source NAT, with no pause of 2 s between echoes.
TEST_F(Services, EstablishedConnectionsGoOnThroughAnAgentRestart) {
  auto web = webEndpoints();
  ASSERT_TRUE(sb_.apply(manualService("keep", "NodePort") +
                        manualSlice("keep-1", "keep", {web["web-1"], web["web-3"]})));
  const json svc = sb_.kubectlJson({"get", "service", "keep"});
  const std::string ip = svc["spec"]["clusterIP"];
  const int node_port = svc["spec"]["ports"][0]["nodePort"];
  const std::set<std::string> both = {web["web-1"].ip + ":9000 active",
                                      web["web-3"].ip + ":9000 active"};
  ASSERT_TRUE(sb_.waitFrontendBackends(1, ip + ":90/TCP", both));
  ASSERT_TRUE(
      sb_.waitFrontendBackends(1, sb_.nodeIp(1) + ":" + std::to_string(node_port) + "/TCP", both));

  std::vector<std::unique_ptr<BackgroundProcess>> clients;
  clients.push_back(startLongLivedClient("keep-pod", ip));
  ASSERT_FALSE(greetedBy(*clients.back()).empty()) << clients.back()->log();
  std::set<std::string> outside_held;
  for (int i = 0; i < 20 && outside_held.size() < 2; ++i) {
    auto c = startOutsideClient("keep-outside-" + std::to_string(i), sb_.nodeIp(1), node_port);
    const std::string held = greetedBy(*c);
    if (!held.empty() && outside_held.insert(held).second) clients.push_back(std::move(c));
  }
  ASSERT_EQ(outside_held, (std::set<std::string>{"web-1", "web-3"}));
  for (auto& c : clients) ASSERT_TRUE(waitUntil([&] { return echoes(*c) >= 3; }, 5s)) << c->log();

  auto restart = sb_.cli({"restart", "node-1/agent"});
  ASSERT_TRUE(restart.ok()) << restart.describe();
  ASSERT_TRUE(waitBackends(ip, 2, 90));  // the new agent is up and serving its API
  // Every connection goes on: 15 more echoes (1.5 s of them) once the new agent is up.
  std::vector<size_t> at_up;
  for (auto& c : clients) at_up.push_back(echoes(*c));
  for (size_t i = 0; i < clients.size(); ++i) {
    EXPECT_TRUE(waitUntil([&] { return echoes(*clients[i]) >= at_up[i] + 15; }, 10s))
        << clients[i]->log();
    EXPECT_TRUE(clients[i]->running()) << clients[i]->log();
    EXPECT_LT(longestEchoGap(*clients[i]), 2.0) << clients[i]->log();
    clients[i]->terminate();
  }
}

// Clients outside the cluster: the underlay namespace reaches the nodes directly.
TEST_F(Services, NodePortExternalIpAndLoadBalancerFromOutside) {
  ASSERT_TRUE(
      sb_.apply(service("np", "web", "  type: NodePort\n") +
                service("np-local", "web", "  type: NodePort\n  externalTrafficPolicy: Local\n") +
                service("ext", "web", "  externalIPs: [203.0.113.10]\n")));
  auto node_port = [&](const std::string& name, int index) {
    return std::to_string(
        sb_.kubectlJson({"get", "service", name})["spec"]["ports"][index]["nodePort"].get<int>());
  };
  const std::string np = node_port("np", 0), np_udp = node_port("np", 1);
  const std::string np_local = node_port("np-local", 0);
  ASSERT_TRUE(waitBackends(sb_.nodeIp(1), 3, std::stoi(np)));
  ASSERT_TRUE(waitBackends(sb_.nodeIp(1), 1, std::stoi(np_local)));
  ASSERT_TRUE(waitBackends("203.0.113.10", 3));
  const std::string outside = sb_.underlayNetns();
  auto outside_get = [&](const std::string& url) { return trim(httpGet(outside, url)); };

  // Cluster policy: backends on both nodes (node-2's through the node's source NAT).
  std::set<std::string> seen;
  for (int i = 0; i < 30; ++i) seen.insert(outside_get("http://" + sb_.nodeIp(1) + ":" + np + "/"));
  EXPECT_EQ(seen, (std::set<std::string>{"web-1", "web-2", "web-3"}));
  // UDP, several times so backends on both nodes answer.
  for (int i = 0; i < 10; ++i) {
    auto udp = run({"nsenter", "--net=/run/netns/" + outside, "sh", "-c",
                    "echo hi | socat -t 0.5 - UDP:" + sb_.nodeIp(1) + ":" + np_udp});
    EXPECT_NE(udp.out.find(" hi"), std::string::npos) << udp.describe();
  }

  // The connections are in node-1's conntrack map, read straight from its pin.
  auto ct = run({(binDir() / "petrel").string(), "bpf", "ct", "list", "-o", "json", "--bpf-root",
                 sb_.bpfRoot(1)});
  ASSERT_TRUE(ct.ok()) << ct.describe();
  EXPECT_NE(ct.out.find("\"destination\": \"" + sb_.nodeIp(1) + ":" + np + "\""), std::string::npos)
      << ct.out.substr(0, 2000);

  // Local policy: node-1's own backend only, and it sees the real client.
  for (int i = 0; i < 5; ++i) {
    json j = json::parse(outside_get("http://" + sb_.nodeIp(1) + ":" + np_local + "/json"), nullptr,
                         false);
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j["name"], "web-1");
    EXPECT_EQ(j["client"].get<std::string>().rfind(sb_.underlayIp(1) + ":", 0), 0u) << j.dump();
  }

  // Large answers arrive whole. The backends send them in GSO superpackets that the reverse
  // NAT forwards by the FIB: node-1's own backend's, and node-2's coming back through node-1.
  auto download_size = [&](const std::string& port) {
    auto r = inNetns(outside, "curl -sS -m 20 -o /dev/null -w '%{size_download}' http://" +
                                  sb_.nodeIp(1) + ":" + port + "/bytes/8000000");
    return r.ok() ? r.out : r.describe();
  };
  EXPECT_EQ(download_size(np_local), "8000000");
  for (int i = 0; i < 6; ++i) EXPECT_EQ(download_size(np), "8000000") << "download " << i;

  // An externalIP the outside routes to node-1.
  ASSERT_TRUE(
      run({"ip", "-n", outside, "route", "add", "203.0.113.10/32", "via", sb_.nodeIp(1)}).ok());
  EXPECT_EQ(outside_get("http://203.0.113.10/").rfind("web-", 0), 0u);

  // A LoadBalancer's address, once its controller writes it into the status (as MetalLB would),
  // routed to node-1 by the outside.
  ASSERT_TRUE(sb_.apply(service("lb", "web", "  type: LoadBalancer\n")));
  auto patched =
      sb_.kubectl({"patch", "service", "lb", "--subresource=status", "--type=merge", "-p",
                   R"({"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.50"}]}}})"});
  ASSERT_TRUE(patched.ok()) << patched.describe();
  ASSERT_TRUE(waitBackends("198.51.100.50", 3));
  ASSERT_TRUE(
      run({"ip", "-n", outside, "route", "add", "198.51.100.50/32", "via", sb_.nodeIp(1)}).ok());
  std::set<std::string> via_lb;
  for (int i = 0; i < 30; ++i) via_lb.insert(outside_get("http://198.51.100.50/"));
  EXPECT_EQ(via_lb, (std::set<std::string>{"web-1", "web-2", "web-3"}));
}

// `petrel bpf lb list` and `petrel bpf ct list` read the pinned maps, so they answer while the
// agent is down (killed here, as in a crash): a table by default, JSON with -o json. The datapath
// serves on meanwhile.
TEST_F(Services, BpfListsReadThePinnedMapsWhileTheAgentIsDown) {
  ASSERT_TRUE(sb_.apply(service("np", "web", "  type: NodePort\n")));
  const std::string np = std::to_string(
      sb_.kubectlJson({"get", "service", "np"})["spec"]["ports"][0]["nodePort"].get<int>());
  ASSERT_TRUE(waitBackends(sb_.nodeIp(1), 3, std::stoi(np)));
  const std::string frontend = sb_.nodeIp(1) + ":" + np;
  const std::string outside = sb_.underlayNetns();
  ASSERT_EQ(trim(httpGet(outside, "http://" + frontend + "/")).rfind("web-", 0), 0u);

  const pid_t agent = sb_.componentPid("node-1/agent");
  ASSERT_GT(agent, 0) << sb_.status().dump(1);
  auto kubelet = std::make_unique<KubeletPause>(sb_, 1);  // so the agent stays down
  ASSERT_EQ(::kill(agent, SIGKILL), 0) << strerror(errno);
  auto gone = [&] {  // no process, or a zombie its parent has not reaped yet
    std::ifstream stat("/proc/" + std::to_string(agent) + "/stat");
    std::string pid, comm, state;
    return !(stat >> pid >> comm >> state) || state == "Z";
  };
  ASSERT_TRUE(waitUntil(gone, 5s));
  auto agentDown =
      run({(binDir() / "petrel").string(), "service", "list", "--socket", sb_.agentSocket(1)});
  EXPECT_FALSE(agentDown.ok()) << "the agent still answers:\n" << agentDown.describe();

  auto bpf = [&](const std::string& what, bool as_json) {
    std::vector<std::string> argv = {
        (binDir() / "petrel").string(), "bpf", what, "list", "--bpf-root", sb_.bpfRoot(1)};
    if (as_json) argv.insert(argv.end(), {"-o", "json"});
    auto r = run(argv);
    EXPECT_TRUE(r.ok()) << r.describe();
    return r.out;
  };
  // The frontend, its kind and count, and one row per backend.
  const json lb = json::parse(bpf("lb", true), nullptr, false);
  ASSERT_TRUE(lb.is_array()) << lb;
  auto pods = sb_.pods();
  std::set<std::string> backends;
  bool head = false;
  for (const auto& row : lb) {
    if (row["frontend"] != frontend + "/TCP") continue;
    if (row["slot"] == 0) {
      head = row["type"] == "NodePort" && row["count"] == 3;
    } else {
      backends.insert(row["backend"].get<std::string>());
    }
  }
  EXPECT_TRUE(head) << lb.dump(1);
  EXPECT_EQ(backends,
            (std::set<std::string>{pods["web-1"]["status"]["podIP"].get<std::string>() + ":8080",
                                   pods["web-2"]["status"]["podIP"].get<std::string>() + ":8081",
                                   pods["web-3"]["status"]["podIP"].get<std::string>() + ":8080"}));
  const std::string lb_table = bpf("lb", false);
  EXPECT_NE(lb_table.find("FRONTEND"), std::string::npos) << lb_table;
  EXPECT_NE(lb_table.find("NodePort, 3 backends"), std::string::npos) << lb_table;

  // The connection from outside, both directions; the reply entry saw the answer.
  const json ct = json::parse(bpf("ct", true), nullptr, false);
  ASSERT_TRUE(ct.is_array()) << ct;
  bool service_entry = false, replied = false;
  for (const auto& row : ct) {
    if (row["direction"] == "service" && row["destination"] == frontend) service_entry = true;
    if (row["direction"] == "reply" && row["translated"] == frontend) {
      for (const auto& f : row["flags"]) replied = replied || f == "replied";
    }
  }
  EXPECT_TRUE(service_entry) << ct.dump(1);
  EXPECT_TRUE(replied) << ct.dump(1);
  const std::string ct_table = bpf("ct", false);
  EXPECT_NE(ct_table.find("DESTINATION"), std::string::npos) << ct_table;
  EXPECT_NE(ct_table.find(frontend), std::string::npos) << ct_table;

  // Nobody programs the maps now, and the Service still answers.
  EXPECT_EQ(trim(httpGet(outside, "http://" + frontend + "/")).rfind("web-", 0), 0u);
  kubelet.reset();  // it starts the agent again
  EXPECT_TRUE(waitBackends(sb_.nodeIp(1), 3, std::stoi(np)));
}

// A backend's ICMP error about a NodePort connection reaches the client outside as if the
// frontend sent it: UDP to a port nothing in the pods listens on is refused at once instead of
// timing out, from node-1's own backend (externalTrafficPolicy Local) and from those on node-2
// (Cluster: behind node-1's source NAT).
TEST_F(Services, ABackendsIcmpErrorReachesTheClientOutside) {
  auto closed = [](const std::string& name, const std::string& policy) {
    return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name +
           "}\nspec:\n  type: NodePort\n  externalTrafficPolicy: " + policy +
           "\n  selector: {app: web}\n  ports:\n"
           "  - {name: udp, port: 54, targetPort: 9009, protocol: UDP}\n---\n";
  };
  ASSERT_TRUE(sb_.apply(closed("closed-local", "Local") + closed("closed-cluster", "Cluster")));
  auto node_port = [&](const std::string& name) {
    return sb_.kubectlJson({"get", "service", name})["spec"]["ports"][0]["nodePort"].get<int>();
  };
  const int local = node_port("closed-local"), cluster = node_port("closed-cluster");
  // Before its backends are programmed the node's stack would refuse too: wait for them.
  ASSERT_TRUE(waitBackends(sb_.nodeIp(1), 1, local, "UDP"));
  ASSERT_TRUE(waitBackends(sb_.nodeIp(1), 3, cluster, "UDP"));
  // Each backend's own kernel limits the ICMP errors it sends to one peer (a small burst, then
  // about one a second), and nine flows in quick succession meet that limit: lift it in the
  // backends' namespaces, so the test sees Petrel's forwarding and not the backends' timing.
  const auto netns = sb_.podNetns();
  for (const char* pod : {"web-1", "web-2", "web-3"}) {
    ASSERT_TRUE(netns.count(pod)) << pod;
    auto st = inNetns(netns.at(pod), "sysctl -q -w net.ipv4.icmp_ratelimit=0");
    ASSERT_TRUE(st.ok()) << st.describe();
  }
  const uint64_t before = sb_.datapathCount(1, "service-icmp-error");
  auto refused = [&](int port) {
    auto udp = run({"nsenter", "--net=/run/netns/" + sb_.underlayNetns(), "sh", "-c",
                    "echo hi | socat -t 2 - UDP:" + sb_.nodeIp(1) + ":" + std::to_string(port)},
                   {.timeout = 10s});
    return udp.err.find("Connection refused") != std::string::npos
               ? ::testing::AssertionSuccess()
               : ::testing::AssertionFailure() << udp.describe();
  };
  EXPECT_TRUE(refused(local));
  // Eight new flows: Maglev sends some to node-2's two backends (all eight to node-1's own has a
  // chance of 1 in 6,561).
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(refused(cluster)) << "flow " << i;
  EXPECT_GE(sb_.datapathCount(1, "service-icmp-error"), before + 9);
}

// Serving terminating endpoints (ready=false, serving=true, terminating=true) take new
// connections only while no endpoint of the Service is ready.
TEST_F(Services, ServingTerminatingEndpointsTakeNewConnectionsOnlyWhenNoneIsReady) {
  auto web = webEndpoints();
  SliceEndpoint terminating = web["web-2"];
  terminating.ready = false;
  terminating.terminating = true;
  ASSERT_TRUE(sb_.apply(manualService("drain") +
                        manualSlice("drain-1", "drain", {web["web-1"], terminating})));
  const std::string ip = sb_.kubectlJson({"get", "service", "drain"})["spec"]["clusterIP"];
  const std::string frontend = ip + ":90/TCP";
  ASSERT_TRUE(sb_.waitFrontendBackends(1, frontend, {web["web-1"].ip + ":9000 active"}));
  auto fresh = greetings(ip, 15);
  EXPECT_EQ(std::set<std::string>(fresh.begin(), fresh.end()), std::set<std::string>{"web-1"});
  EXPECT_EQ(fresh.size(), 15u);

  // web-1 is no longer ready (nor terminating): the serving terminating web-2 takes over.
  SliceEndpoint not_ready = web["web-1"];
  not_ready.ready = false;
  not_ready.serving = false;
  ASSERT_TRUE(sb_.apply(manualSlice("drain-1", "drain", {not_ready, terminating})));
  ASSERT_TRUE(sb_.waitFrontendBackends(1, frontend, {web["web-2"].ip + ":9000 terminating"}));
  fresh = greetings(ip, 15);
  EXPECT_EQ(std::set<std::string>(fresh.begin(), fresh.end()), std::set<std::string>{"web-2"});
  EXPECT_EQ(fresh.size(), 15u);
  // And back: once web-1 is ready again, web-2 gets no new connections.
  ASSERT_TRUE(sb_.apply(manualSlice("drain-1", "drain", {web["web-1"], terminating})));
  ASSERT_TRUE(sb_.waitFrontendBackends(1, frontend, {web["web-1"].ip + ":9000 active"}));
  fresh = greetings(ip, 10);
  EXPECT_EQ(std::set<std::string>(fresh.begin(), fresh.end()), std::set<std::string>{"web-1"});
}

// A connection open to a backend that turns terminating (its pod shutting down gracefully, still
// serving) goes on while new connections go to the ready backend: Kubernetes' graceful
// termination. Unlike a backend removed from the slice, it must not be reset, until its endpoint
// is gone.
TEST_F(Services, AConnectionToABackendThatTurnsTerminatingGoesOn) {
  auto web = webEndpoints();
  ASSERT_TRUE(sb_.apply(manualService("term") +
                        manualSlice("term-1", "term", {web["web-1"], web["web-2"]})));
  const std::string ip = sb_.kubectlJson({"get", "service", "term"})["spec"]["clusterIP"];
  const std::string frontend = ip + ":90/TCP";
  ASSERT_TRUE(sb_.waitFrontendBackends(
      1, frontend, {web["web-1"].ip + ":9000 active", web["web-2"].ip + ":9000 active"}));

  auto client = startLongLivedClient("term-client", ip);
  const std::string held = greetedBy(*client);
  ASSERT_TRUE(held == "web-1" || held == "web-2") << client->log();
  const std::string other = held == "web-1" ? "web-2" : "web-1";
  ASSERT_TRUE(waitUntil([&] { return echoes(*client) >= 3; }, 5s)) << client->log();

  SliceEndpoint terminating = web[held];
  terminating.ready = false;
  terminating.terminating = true;
  ASSERT_TRUE(sb_.apply(manualSlice("term-1", "term", {terminating, web[other]})));
  ASSERT_TRUE(sb_.waitFrontendBackends(1, frontend, {web[other].ip + ":9000 active"}));
  auto changed = std::chrono::steady_clock::now();
  const size_t echoes_at_change = echoes(*client);
  auto fresh = greetings(ip, 10);
  EXPECT_EQ(std::set<std::string>(fresh.begin(), fresh.end()), std::set<std::string>{other});
  std::this_thread::sleep_until(changed + 2s);
  EXPECT_TRUE(client->running()) << "the connection to the terminating " << held << " ended:\n"
                                 << client->log() << "node-1 agent:\n"
                                 << sh("grep -i reset " + sb_.componentLog("node-1/agent")).out;
  EXPECT_GE(echoes(*client), echoes_at_change + 10) << client->log();

  // It drains on through an agent restart, and once its endpoint is gone from the slice the
  // connection is reset (the new agent learns what drains from the slices, not from its
  // predecessor).
  auto restart = sb_.cli({"restart", "node-1/agent"});
  ASSERT_TRUE(restart.ok()) << restart.describe();
  ASSERT_TRUE(sb_.waitFrontendBackends(1, frontend, {web[other].ip + ":9000 active"}));
  const size_t echoes_at_up = echoes(*client);  // then a second of echoes with the new agent
  ASSERT_TRUE(waitUntil([&] { return echoes(*client) >= echoes_at_up + 10; }, 10s))
      << client->log();
  ASSERT_TRUE(client->running()) << client->log();
  ASSERT_TRUE(sb_.apply(manualSlice("term-1", "term", {web[other]})));
  expectResetSince(*client, held, std::chrono::steady_clock::now());
}

// A backend taken out of its Service's EndpointSlice (its pod still running) has its clients'
// connections destroyed by the agent: the client's next read or write fails at once instead of
// talking on to a pod that is no longer a backend, or hanging.
TEST_F(Services, ARemovedBackendsConnectionsAreResetAtOnce) {
  auto web = webEndpoints();
  ASSERT_TRUE(sb_.apply(manualService("gone") +
                        manualSlice("gone-1", "gone", {web["web-1"], web["web-3"]})));
  const std::string ip = sb_.kubectlJson({"get", "service", "gone"})["spec"]["clusterIP"];
  const std::string frontend = ip + ":90/TCP";
  ASSERT_TRUE(sb_.waitFrontendBackends(
      1, frontend, {web["web-1"].ip + ":9000 active", web["web-3"].ip + ":9000 active"}));

  auto client = startLongLivedClient("gone-client", ip);
  const std::string held = greetedBy(*client);
  ASSERT_TRUE(held == "web-1" || held == "web-3") << client->log();
  const std::string other = held == "web-1" ? "web-3" : "web-1";
  ASSERT_TRUE(waitUntil([&] { return echoes(*client) >= 3; }, 5s)) << client->log();

  ASSERT_TRUE(sb_.apply(manualSlice("gone-1", "gone", {web[other]})));
  expectResetSince(*client, held, std::chrono::steady_clock::now());
  // The Service goes on with the other backend.
  ASSERT_TRUE(sb_.waitFrontendBackends(1, frontend, {web[other].ip + ":9000 active"}));
  auto fresh = greetings(ip, 5);
  EXPECT_EQ(std::set<std::string>(fresh.begin(), fresh.end()), std::set<std::string>{other});
  EXPECT_EQ(fresh.size(), 5u);
}

// The same for a client outside the cluster (packet-level translation): the agent forgets the
// removed backend's connections, and the client's next segment gets a reset from the frontend,
// whether the backend was on the node (web-1) or behind its source NAT (web-3), at a NodePort
// (the node's stack resets it) and at an externalIP (the datapath does).
TEST_F(Services, ARemovedBackendsConnectionsFromOutsideAreResetAtOnce) {
  auto web = webEndpoints();
  ASSERT_TRUE(sb_.apply(manualService("gone-np", "NodePort", "  externalIPs: [203.0.113.30]\n") +
                        manualSlice("gone-np-1", "gone-np", {web["web-1"], web["web-3"]})));
  const int node_port =
      sb_.kubectlJson({"get", "service", "gone-np"})["spec"]["ports"][0]["nodePort"];
  ASSERT_TRUE(run({"ip", "-n", sb_.underlayNetns(), "route", "add", "203.0.113.30/32", "via",
                   sb_.nodeIp(1)})
                  .ok());
  completeChecksumsOfNode1();
  const std::set<std::string> both = {web["web-1"].ip + ":9000 active",
                                      web["web-3"].ip + ":9000 active"};
  struct Case {
    std::string removed, ip;
    int port;
  };
  for (const auto& c :
       {Case{"web-1", sb_.nodeIp(1), node_port}, Case{"web-3", sb_.nodeIp(1), node_port},
        Case{"web-1", "203.0.113.30", 90}, Case{"web-3", "203.0.113.30", 90}}) {
    SCOPED_TRACE("removing " + c.removed + ", client at " + c.ip);
    const std::string other = c.removed == "web-1" ? "web-3" : "web-1";
    const std::string frontend = c.ip + ":" + std::to_string(c.port) + "/TCP";
    ASSERT_TRUE(sb_.apply(manualSlice("gone-np-1", "gone-np", {web["web-1"], web["web-3"]})));
    ASSERT_TRUE(sb_.waitFrontendBackends(1, frontend, both));
    // Clients until one is held by the backend to remove (Maglev spreads source ports).
    std::unique_ptr<BackgroundProcess> client;
    for (int i = 0; i < 20 && !client; ++i) {
      auto attempt = startOutsideClient("gone-" + c.removed + "-" + c.ip + "-" + std::to_string(i),
                                        c.ip, c.port);
      if (greetedBy(*attempt) == c.removed) client = std::move(attempt);
    }
    ASSERT_TRUE(client) << "no connection of 20 went to " << c.removed;
    ASSERT_TRUE(waitUntil([&] { return echoes(*client) >= 3; }, 5s)) << client->log();
    ASSERT_TRUE(sb_.apply(manualSlice("gone-np-1", "gone-np", {web[other]})));
    expectResetSince(*client, c.removed, std::chrono::steady_clock::now());
  }
}

}  // namespace
}  // namespace petrel::e2e
