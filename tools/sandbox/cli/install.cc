// helm upgrade --install of Petrel's chart into the sandbox.
#include "tools/sandbox/cli/install.h"

#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "k8s/cluster_config.h"
#include "k8s/rest_client.h"
#include "tools/sandbox/cli/commands.h"
#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

std::string defaultChartDir() {
  return PETREL_SOURCE_DIR "/charts/petrel";
}

std::vector<std::string> chartValues(const Layout& l, bool portmap) {
  return {
      // The agents replace kube-proxy: they reach the API server directly, not through the
      // kubernetes Service they are about to serve.
      "k8sServiceHost=" + l.hostIp(),
      fmt::format("k8sServicePort={}", l.api_port),
      "agent.routingMode=" + l.routing_mode,
      "agent.vxlanMode=" + l.vxlan_mode,
      "agent.lbAcceleration=" + l.lb_acceleration,
      "operator.clusterPoolCIDR=" + l.pod_net + ".0.0/16",
      "operator.nodeCIDRMask=24",
      portmap ? "cni.chainPortmap=true" : "cni.chainPortmap=false",
      "cni.logFile=" + l.logDir() + "/cni.log",
  };
}

Status helm(const Layout& l, const std::string& bin, std::vector<std::string> args) {
  const std::string home = l.state_dir + "/helm";
  ProcessSpec spec;
  spec.argv = {bin + "/petrel-k8s", "helm", "--kubeconfig", l.kubeconfig()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = {"HOME=" + home, "HELM_CACHE_HOME=" + home + "/cache",
              "HELM_CONFIG_HOME=" + home + "/config", "HELM_DATA_HOME=" + home + "/data",
              "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  spec.timeout = 120s;
  auto r = runProcess(spec);
  if (!r) return r.status();
  if (!r->ok()) {
    return makeError(Code::kUnavailable, "helm {} failed ({}): {}", args.empty() ? "" : args[0],
                     r->timed_out ? "timed out" : fmt::format("exit {}", r->exit_code),
                     r->err.empty() ? r->out : r->err);
  }
  return Status::ok();
}

Status installPetrel(const Layout& l, const std::string& bin, bool portmap) {
  const std::string chart = l.chart_dir.empty() ? defaultChartDir() : l.chart_dir;
  if (!fs::exists(chart + "/Chart.yaml")) {
    return makeError(Code::kNotFound, "no chart at {} (no Chart.yaml): pass --chart DIR", chart);
  }
  std::vector<std::string> args = {"upgrade", "--install",   "petrel",
                                   chart,     "--namespace", "kube-system"};
  for (const auto& v : chartValues(l, portmap)) args.insert(args.end(), {"--set", v});
  step(
      fmt::format("helm upgrade --install petrel {} -n kube-system (the agent DaemonSet, the "
                  "operator, RBAC, CRDs)",
                  chart));
  PETREL_RETURN_IF_ERROR(helm(l, bin, args));
  // As `helm install --wait` would: every node's agent Ready (its socket answers `petrel status`,
  // the chart's readiness probe), and the operator's Deployment available.
  auto cluster = k8s::loadKubeconfig(l.kubeconfig());
  if (!cluster) return cluster.status();
  k8s::RestClient api(std::move(*cluster));
  auto ready = [&](const std::string& path, const char* field, int want) {
    auto r = api.get(path, 5s);
    if (!r || r->status != 200) return false;
    json j = json::parse(r->body, nullptr, false);
    return j.is_object() && j.value("/status"_json_pointer, json::object()).value(field, 0) >= want;
  };
  const auto deadline = std::chrono::steady_clock::now() + 180s;
  while (!ready("/apis/apps/v1/namespaces/kube-system/daemonsets/petrel-agent", "numberReady",
                l.nodes) ||
         !ready("/apis/apps/v1/namespaces/kube-system/deployments/petrel-operator",
                "availableReplicas", 1)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return makeError(Code::kUnavailable,
                       "Petrel's agents or operator are not Ready after 180 s: `kubectl -n "
                       "kube-system get pods -o wide` and {}/node-*-kubelet.log show why",
                       l.logDir());
    }
    std::this_thread::sleep_for(250ms);
  }
  return Status::ok();
}

}  // namespace petrel::sandbox
