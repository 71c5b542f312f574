// petrel-sandbox: a multi-node Kubernetes-like cluster on one machine, made of network
// namespaces, running the real Petrel agent and CNI plugin. `up`, `down`, `status`, `restart`,
// `exec`.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "tools/sandbox/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"petrel-sandbox: a local multi-node cluster in network namespaces"};
  app.require_subcommand(1);
  app.fallthrough();
  petrel::sandbox::Layout layout;
  app.add_option("--state-dir", layout.state_dir, "Where the sandbox keeps its state and logs")
      ->envname("PETREL_SANDBOX_DIR")
      ->default_val(petrel::sandbox::kDefaultStateDir);

  auto* up = app.add_subcommand("up", "Start the sandbox (or say that it runs)");
  up->add_option("--nodes", layout.nodes,
                 "Number of nodes; 0: the control plane alone (no agents, no operator)")
      ->default_val(2)
      ->check(CLI::Range(0, 20));
  up->add_option("--api-port", layout.api_port, "API server port")->default_val(6443);
  up->add_option("--prefix", layout.prefix, "Names every namespace, link and pin")
      ->default_val("psbx");
  up->add_option("--underlay-net", layout.underlay_net, "Underlay /24 as three octets")
      ->default_val("192.168.200");
  up->add_option("--pod-net", layout.pod_net, "Pod /16 as two octets; node i gets <net>.i.0/24")
      ->default_val("10.244");
  up->add_option("--routing-mode", layout.routing_mode,
                 "How pods reach other nodes' pods: tunnel (VXLAN) or native (routes)")
      ->check(CLI::IsMember({"tunnel", "native"}))
      ->default_val("tunnel");
  up->add_option("--vxlan-mode", layout.vxlan_mode,
                 "The agents' overlay device: collect-md (identity in the VNI) or classic "
                 "(identity in VXLAN-GBP)")
      ->check(CLI::IsMember({"classic", "collect-md"}))
      ->default_val("collect-md");
  up->add_option("--lb-acceleration", layout.lb_acceleration,
                 "The agents' XDP Service fast path: native (on the nodes' uplink veths, with "
                 "the underlay made to act as a wire for it), best-effort (skips veths: tc "
                 "only) or disabled")
      ->check(CLI::IsMember({"native", "best-effort", "disabled"}))
      ->default_val("best-effort");
  up->add_option("--install", layout.install,
                 "How Petrel gets onto the nodes: helm (`helm install` of its chart: agents and "
                 "operator run as pods) or direct (processes started here, with the admin's "
                 "certificate: the quick loop while working on the agent)")
      ->check(CLI::IsMember({"helm", "direct"}))
      ->default_val("helm");
  up->add_option("--chart", layout.chart_dir,
                 "The chart --install helm installs (default: the source tree's charts/petrel)");
  auto* down = app.add_subcommand("down", "Remove everything the sandbox made");
  down->add_option("--prefix", layout.prefix,
                   "Prefix to clean up when the state file is gone (after a crash)")
      ->default_val("psbx");
  auto* restart = app.add_subcommand("restart", "Stop one component and start it again");
  std::string component;
  restart
      ->add_option("component", component,
                   "etcd, apiserver, controller-manager, scheduler, node-N/agent, node-N/kubelet")
      ->required();
  auto* status = app.add_subcommand("status", "Show what runs where");
  std::string output = "table";
  status->add_option("-o,--output", output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  auto* exec = app.add_subcommand(
      "exec", "Run a command as a node: in its network namespace and cgroup (socket LB applies)");
  std::string exec_node;
  std::vector<std::string> exec_command;
  exec->add_option("node", exec_node, "node-N")->required();
  exec->add_option("command", exec_command, "The command, after --")->required();
  exec->footer("Example: petrel-sandbox exec node-1 -- curl -s http://10.96.0.10/");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_pattern("    %v");

  if (geteuid() != 0 && !status->parsed()) {
    std::cerr << "petrel-sandbox " << app.get_subcommands().front()->get_name()
              << " needs root: it creates network namespaces, links and BPF programs. Run it with "
                 "sudo.\n";
    return 1;
  }
  petrel::Status result = petrel::Status::ok();
  if (up->parsed()) result = petrel::sandbox::sandboxUp(layout);
  if (down->parsed()) result = petrel::sandbox::sandboxDown(layout, false);
  if (restart->parsed()) result = petrel::sandbox::sandboxRestart(layout.state_dir, component);
  if (status->parsed()) result = petrel::sandbox::sandboxStatus(layout.state_dir, output == "json");
  if (exec->parsed())
    result = petrel::sandbox::sandboxExec(layout.state_dir, exec_node, exec_command);
  if (!result) {
    std::cerr << "petrel-sandbox: " << result.message() << "\n";
    return exec->parsed() ? 127 : 1;  // exec returns only when the command could not be run
  }
  return 0;
}
