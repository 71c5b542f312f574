// petrel-test-fake-agent: runs FakeAgent as a process for end-to-end tests of petrel-cni.
//   petrel-test-fake-agent --socket /tmp/x.sock --state-file /tmp/x.json
//       [--delete-netns-on-create /var/run/netns/NAME] [--fail-create-endpoint] [--not-ready]
// The state file (FakeAgent::stateJson) is rewritten atomically after every change and once at
// start-up, so its existence means "serving". SIGTERM/SIGINT stop it.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "cni-plugin/testing/fake_agent.h"

namespace {

void writeState(const petrel::cni::testing::FakeAgent& agent, const std::string& path) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << agent.stateJson().dump(2) << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"petrel-test-fake-agent: a fake petrel-agent gRPC server for CNI tests"};
  std::string socket_path;
  std::string state_file;
  std::string delete_netns;
  bool fail_create = false;
  bool not_ready = false;
  petrel::cni::testing::FakeAgent::Options options;
  app.add_option("--socket", socket_path, "unix socket to serve on")->required();
  app.add_option("--state-file", state_file, "JSON state written after every change");
  app.add_option("--delete-netns-on-create", delete_netns,
                 "unmount and remove this netns path inside CreateEndpoint");
  app.add_flag("--fail-create-endpoint", fail_create, "CreateEndpoint answers INTERNAL");
  app.add_flag("--not-ready", not_ready, "Status answers ready=false");
  app.add_option("--pod-cidr", options.pod_cidr, "pod CIDR to allocate from");
  app.add_option("--mtu", options.mtu, "MTU handed out by AllocateIp");
  CLI11_PARSE(app, argc, argv);
  options.ready = !not_ready;

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // before gRPC starts its threads

  petrel::cni::testing::FakeAgent agent(options);
  agent.setCreateEndpointHook([&](const petrel::api::v1::CreateEndpointRequest&) {
    if (!delete_netns.empty()) {
      ::umount2(delete_netns.c_str(), MNT_DETACH);
      ::unlink(delete_netns.c_str());
    }
    if (fail_create) return grpc::Status(grpc::StatusCode::INTERNAL, "fake agent told to fail");
    return grpc::Status::OK;
  });
  agent.setOnChange([&] { writeState(agent, state_file); });
  if (auto s = agent.start(socket_path); !s.isOk()) {
    std::fprintf(stderr, "%s\n", s.toString().c_str());
    return 1;
  }
  writeState(agent, state_file);
  int sig = 0;
  sigwait(&sigs, &sig);
  agent.stop();
  writeState(agent, state_file);
  ::unlink(socket_path.c_str());
  return 0;
}
