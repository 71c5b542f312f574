// petrel-bench-k8s-load: fills an apiserver with a cluster's worth of objects, fast, for
// bench/k8s_sync.sh. Creates namespace NS, NODES Nodes (podCIDR, InternalIP, Ready), PODS Pods
// spread evenly over the nodes (or all on --agent-node with --all-on-agent-node), each with
// status.podIP/podIPs set through the status subresource and label app=app<i/2>, SERVICES
// ClusterIP Services (one port, selector app=app<j mod PODS/2>, clusterIP 10.96.0.10+j) and one
// EndpointSlice per Service with that app's two pods as endpoints. With the namespace it creates
// its `default` ServiceAccount, which the real API server's ServiceAccount admission requires
// before any pod (the controller manager that would make it may be stopped: k8s_sync.sh).
//
//   petrel-bench-k8s-load --kubeconfig F [--namespace NS] [--nodes N] [--pods N]
//                         [--services N] [--agent-node NAME] [--all-on-agent-node]
//                         [--connections N] [--new-connection-per-request]
//
// Requests go out on --connections parallel keep-alive HTTPS connections (one libcurl handle per
// worker thread). --new-connection-per-request uses petrel::k8s::RestClient::send instead (a TLS
// handshake per request) to compare. Progress goes to stderr; the last stdout line is
// "objects=<n> requests=<n> seconds=<s> objects_per_s=<r> requests_per_s=<r>".
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "k8s/cluster_config.h"
#include "k8s/curl_tls.h"
#include "k8s/rest_client.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Request {
  std::string method;
  std::string path;
  std::string body;
  std::string content_type = "application/json";
  bool exists_ok = false;  // 409 AlreadyExists counts as done
};

// One unit of work: requests sent in order on one connection (a Pod's create, then its status).
using Task = std::vector<Request>;

struct Options {
  std::string kubeconfig;
  std::string ns = "petrel-bench";
  int nodes = 10;
  int pods = 1000;
  int services = 2000;
  std::string agent_node = "node-0";
  bool all_on_agent_node = false;
  int connections = 64;
  bool new_connection_per_request = false;
  bool server_allocates_cluster_ips = false;
};

// Sends requests over one reused libcurl handle, so the TCP+TLS connection is kept alive.
class KeepAliveSender {
 public:
  explicit KeepAliveSender(const petrel::k8s::ClusterConfig& cfg) : cfg_(cfg) {
    curl_ = curl_easy_init();
    if (!cfg_.token.empty()) headers_ = curl_slist_append(nullptr, auth(cfg_.token).c_str());
    headers_ = curl_slist_append(headers_, "Accept: application/json");
  }
  ~KeepAliveSender() {
    curl_slist_free_all(headers_);
    if (curl_) curl_easy_cleanup(curl_);
  }
  KeepAliveSender(const KeepAliveSender&) = delete;
  KeepAliveSender& operator=(const KeepAliveSender&) = delete;

  // Returns the HTTP status, or an error message when the server could not be reached.
  petrel::Result<long> send(const Request& r) {
    if (!curl_) return petrel::Status(petrel::Code::kResourceExhausted, "curl_easy_init failed");
    std::string url = cfg_.server + r.path;
    curl_slist* headers = curl_slist_append(nullptr, ("Content-Type: " + r.content_type).c_str());
    for (curl_slist* h = headers_; h; h = h->next) headers = curl_slist_append(headers, h->data);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl_, CURLOPT_TCP_NODELAY, 1L);
    petrel::k8s::applyTls(curl_, cfg_);
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    body_.clear();
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &body_);
    CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
      return petrel::makeError(petrel::Code::kUnavailable, "{} {}: {}", r.method, url,
                               curl_easy_strerror(rc));
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    return status;
  }
  const std::string& body() const { return body_; }

 private:
  static std::string auth(const std::string& token) { return "Authorization: Bearer " + token; }
  static size_t append(char* data, size_t size, size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
  }

  const petrel::k8s::ClusterConfig& cfg_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string body_;
};

std::string ipv4(uint32_t v) {
  return fmt::format("{}.{}.{}.{}", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

// Node n owns 10.244.(4n).0/22; pods get .2 upwards in their node's range.
constexpr uint32_t kPodBase = (10u << 24) | (244u << 16);
std::string nodeName(const Options& o, int n) {
  return n == 0 ? o.agent_node : fmt::format("node-{}", n);
}
std::string nodeCidr(int n) {
  return ipv4(kPodBase + static_cast<uint32_t>(n) * 1024) + "/22";
}
int podNode(const Options& o, int i) {
  return o.all_on_agent_node ? 0 : i % o.nodes;
}
std::string podIp(const Options& o, int i) {
  int slot = o.all_on_agent_node ? i : i / o.nodes;
  return ipv4(kPodBase + static_cast<uint32_t>(podNode(o, i)) * 1024 + 2 + slot);
}
std::string podName(int i) {
  return fmt::format("pod-{}", i);
}
int apps(const Options& o) {
  return std::max(1, o.pods / 2);
}

std::vector<Task> nodeTasks(const Options& o) {
  std::vector<Task> tasks;
  for (int n = 0; n < o.nodes; ++n) {
    std::string name = nodeName(o, n);
    json node = {{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata", {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}}}}},
                 {"spec", {{"podCIDR", nodeCidr(n)}, {"podCIDRs", {nodeCidr(n)}}}}};
    json status = {{"status",
                    {{"addresses", {{{"type", "InternalIP"}, {"address", ipv4(0xc0a8fd00u + n)}}}},
                     {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
    tasks.push_back({{"POST", "/api/v1/nodes", node.dump()},
                     {"PATCH", "/api/v1/nodes/" + name + "/status", status.dump(),
                      "application/merge-patch+json"}});
  }
  return tasks;
}

std::vector<Task> podTasks(const Options& o) {
  std::vector<Task> tasks;
  std::string base = "/api/v1/namespaces/" + o.ns + "/pods";
  for (int i = 0; i < o.pods; ++i) {
    json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", podName(i)}, {"labels", {{"app", fmt::format("app{}", i / 2)}}}}},
        {"spec",
         {{"nodeName", nodeName(o, podNode(o, i))},
          {"containers",
           {{{"name", "app"}, {"image", "pause"}, {"ports", {{{"containerPort", 8080}}}}}}}}}};
    std::string ip = podIp(o, i);
    json status = {{"status",
                    {{"phase", "Running"},
                     {"podIP", ip},
                     {"podIPs", {{{"ip", ip}}}},
                     {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
    tasks.push_back({{"POST", base, pod.dump()},
                     {"PATCH", base + "/" + podName(i) + "/status", status.dump(),
                      "application/merge-patch+json"}});
  }
  return tasks;
}

std::vector<Task> serviceTasks(const Options& o) {
  std::vector<Task> tasks;
  for (int j = 0; j < o.services; ++j) {
    json svc = {
        {"apiVersion", "v1"},
        {"kind", "Service"},
        {"metadata", {{"name", fmt::format("svc-{}", j)}}},
        {"spec",
         {{"type", "ClusterIP"},
          {"selector", {{"app", fmt::format("app{}", j % apps(o))}}},
          {"ports",
           {{{"name", "http"}, {"port", 80}, {"targetPort", 8080}, {"protocol", "TCP"}}}}}}};
    // 10.96.0.10 upwards, what the server would pick; its allocator lists every Service per
    // create, which makes a 2,000-Service load take ~40 s instead of ~2 s.
    if (!o.server_allocates_cluster_ips)
      svc["spec"]["clusterIP"] = ipv4((10u << 24) | (96u << 16) | static_cast<uint32_t>(10 + j));
    tasks.push_back({{"POST", "/api/v1/namespaces/" + o.ns + "/services", svc.dump()}});
  }
  return tasks;
}

std::vector<Task> sliceTasks(const Options& o) {
  std::vector<Task> tasks;
  for (int j = 0; j < o.services; ++j) {
    std::string svc = fmt::format("svc-{}", j);
    json endpoints = json::array();
    int app = j % apps(o);
    for (int i = 2 * app; i < std::min(2 * app + 2, o.pods); ++i) {
      endpoints.push_back(
          {{"addresses", {podIp(o, i)}},
           {"conditions", {{"ready", true}}},
           {"nodeName", nodeName(o, podNode(o, i))},
           {"targetRef", {{"kind", "Pod"}, {"namespace", o.ns}, {"name", podName(i)}}}});
    }
    json slice = {{"apiVersion", "discovery.k8s.io/v1"},
                  {"kind", "EndpointSlice"},
                  {"metadata",
                   {{"name", svc + "-1"},
                    {"labels",
                     {{"kubernetes.io/service-name", svc},
                      {"endpointslice.kubernetes.io/managed-by", "petrel-bench"}}}}},
                  {"addressType", "IPv4"},
                  {"endpoints", endpoints},
                  {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}}};
    tasks.push_back({{"POST", "/apis/discovery.k8s.io/v1/namespaces/" + o.ns + "/endpointslices",
                      slice.dump()}});
  }
  return tasks;
}

struct PhaseResult {
  size_t requests = 0;
  std::optional<std::string> error;
};

// Runs `tasks` on `o.connections` workers; prints progress about every 25 %.
PhaseResult runPhase(const Options& o, const petrel::k8s::ClusterConfig& cfg,
                     const petrel::k8s::RestClient& rest, const std::string& what,
                     const std::vector<Task>& tasks) {
  std::atomic<size_t> next{0}, done{0}, requests{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  PhaseResult result;
  auto start = Clock::now();
  auto fail = [&](const std::string& msg) {
    std::lock_guard lock(mu);
    if (!result.error) result.error = msg;
    failed = true;
  };
  auto worker = [&] {
    KeepAliveSender sender(cfg);
    for (size_t t; !failed && (t = next.fetch_add(1)) < tasks.size();) {
      for (const Request& r : tasks[t]) {
        long status = 0;
        std::string body;
        if (o.new_connection_per_request) {
          auto resp = rest.send(r.method, r.path, r.body, std::chrono::seconds(30), r.content_type);
          if (!resp) return fail(resp.status().toString());
          status = resp->status;
          body = resp->body;
        } else {
          auto st = sender.send(r);
          if (!st) return fail(st.status().toString());
          status = *st;
          body = sender.body();
        }
        requests.fetch_add(1);
        if (status >= 300 && !(r.exists_ok && status == 409)) {
          return fail(
              fmt::format("{} {}: HTTP {}: {}", r.method, r.path, status, body.substr(0, 300)));
        }
      }
      size_t d = done.fetch_add(1) + 1;
      size_t step = std::max<size_t>(1, tasks.size() / 4);
      if (d % step == 0 || d == tasks.size()) {
        double s = std::chrono::duration<double>(Clock::now() - start).count();
        std::fprintf(stderr, "k8s-load: %-15s %6zu/%zu  %.2f s\n", what.c_str(), d, tasks.size(),
                     s);
      }
    }
  };
  std::vector<std::thread> threads;
  int n = std::max(1, std::min<int>(o.connections, static_cast<int>(tasks.size())));
  for (int i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  result.requests = requests.load();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Fills an apiserver with Nodes, Pods, Services and EndpointSlices for benchmarks"};
  app.add_option("--kubeconfig", o.kubeconfig, "kubeconfig of the apiserver")->required();
  app.add_option("--namespace", o.ns, "namespace for pods, services and slices");
  app.add_option("--nodes", o.nodes, "Node objects")->check(CLI::Range(1, 60));
  app.add_option("--pods", o.pods, "Pods, spread evenly over the nodes")
      ->check(CLI::Range(0, 10000));
  app.add_option("--services", o.services, "Services, each with one EndpointSlice")
      ->check(CLI::Range(0, 65000));
  app.add_option("--agent-node", o.agent_node, "name of the first node (the agent's)");
  app.add_flag("--all-on-agent-node", o.all_on_agent_node, "put every pod on --agent-node");
  app.add_option("--connections", o.connections, "parallel connections")->check(CLI::Range(1, 512));
  app.add_flag("--new-connection-per-request", o.new_connection_per_request,
               "use RestClient::send (a new TLS connection per request)");
  app.add_flag("--server-allocates-cluster-ips", o.server_allocates_cluster_ips,
               "leave spec.clusterIP empty (slow: the server's allocator is O(Services))");
  CLI11_PARSE(app, argc, argv);
  if (o.all_on_agent_node && o.pods > 1000) {
    std::fprintf(stderr, "k8s-load: --all-on-agent-node fits at most 1000 pods in one /22\n");
    return 2;
  }
  if (!o.all_on_agent_node && o.pods / o.nodes > 1000) {
    std::fprintf(stderr, "k8s-load: at most 1000 pods per node\n");
    return 2;
  }

  auto cfg = petrel::k8s::loadKubeconfig(o.kubeconfig);
  if (!cfg) {
    std::fprintf(stderr, "k8s-load: %s\n", cfg.status().toString().c_str());
    return 1;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  petrel::k8s::RestClient rest(*cfg);

  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", o.ns}}}};
  json sa = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "default"}}}};
  std::vector<std::pair<std::string, std::vector<Task>>> phases;
  phases.emplace_back("namespace",
                      std::vector<Task>{{{"POST", "/api/v1/namespaces", ns.dump()},
                                         {"POST", "/api/v1/namespaces/" + o.ns + "/serviceaccounts",
                                          sa.dump(), "application/json", true}}});
  phases.emplace_back("nodes", nodeTasks(o));
  phases.emplace_back("pods", podTasks(o));
  phases.emplace_back("services", serviceTasks(o));
  phases.emplace_back("endpointslices", sliceTasks(o));

  auto start = Clock::now();
  size_t requests = 0;
  size_t objects = 0;
  for (const auto& [what, tasks] : phases) {
    PhaseResult r = runPhase(o, *cfg, rest, what, tasks);
    requests += r.requests;
    if (r.error) {
      std::fprintf(stderr, "k8s-load: %s: %s\n", what.c_str(), r.error->c_str());
      return 1;
    }
    objects += tasks.size();
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("objects=%zu requests=%zu seconds=%.3f objects_per_s=%.0f requests_per_s=%.0f\n",
              objects, requests, secs, objects / secs, requests / secs);
  return 0;
}
