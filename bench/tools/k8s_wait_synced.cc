// petrel-bench-k8s-wait: waits until a starting petrel-agent reports every Kubernetes informer
// cache synced, polling its Status RPC every --interval-ms over one gRPC channel, for
// bench/k8s_sync.sh. (Running `petrel status` that often costs 60-300 ms and a good part of a core
// per call on a 2-core machine, which would blur and slow what is measured.)
//
//   petrel-bench-k8s-wait --socket S --pid PID --start-ns NS [--interval-ms 20] [--timeout-s 120]
//
// NS is when the agent was exec'd (CLOCK_REALTIME, ns: `date +%s%N`). Prints one line
// "answer_ms=<first Status answer> synced_ms=<all caches synced> polls=<n>" and exits 0; exits 1
// when the agent exits or the timeout passes first.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <CLI/CLI.hpp>

#include "agent.grpc.pb.h"

namespace {

using Clock = std::chrono::system_clock;

int64_t msSince(int64_t start_ns) {
  auto now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  return (now - start_ns) / 1000000;
}

bool alive(int pid) {
  return ::kill(pid, 0) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket;
  int pid = 0;
  int64_t start_ns = 0;
  int interval_ms = 20;
  int timeout_s = 120;
  CLI::App app{"Waits until petrel-agent's Kubernetes caches are synced"};
  app.add_option("--socket", socket, "agent API socket")->required();
  app.add_option("--pid", pid, "agent pid; stop waiting when it exits")->required();
  app.add_option("--start-ns", start_ns, "agent exec time, CLOCK_REALTIME ns")->required();
  app.add_option("--interval-ms", interval_ms, "poll interval")->check(CLI::Range(1, 10000));
  app.add_option("--timeout-s", timeout_s, "give up after")->check(CLI::Range(1, 3600));
  CLI11_PARSE(app, argc, argv);

  const auto interval = std::chrono::milliseconds(interval_ms);
  struct stat st {};
  while (::stat(socket.c_str(), &st) != 0) {
    if (!alive(pid) || msSince(start_ns) > timeout_s * 1000) {
      std::fprintf(stderr, "k8s-wait: no agent socket %s\n", socket.c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // A fresh channel after every failed call: a channel that saw the socket before the agent
  // listened can sit in reconnect backoff for seconds.
  auto connect = [&socket] {
    return petrel::api::v1::Agent::NewStub(
        grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  };
  auto stub = connect();
  int64_t answer_ms = -1;
  int polls = 0;
  std::string last;
  while (alive(pid) && msSince(start_ns) <= timeout_s * 1000) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Clock::now() + std::chrono::seconds(2));
    petrel::api::v1::StatusRequest req;
    petrel::api::v1::StatusResponse resp;
    ++polls;
    grpc::Status s = stub->Status(&ctx, req, &resp);
    if (s.ok()) {
      if (answer_ms < 0) answer_ms = msSince(start_ns);
      if (!resp.kubernetes().enabled()) {
        std::fprintf(stderr, "k8s-wait: the agent does not watch Kubernetes\n");
        return 1;
      }
      if (resp.kubernetes().synced()) {
        std::printf("answer_ms=%lld synced_ms=%lld polls=%d\n", static_cast<long long>(answer_ms),
                    static_cast<long long>(msSince(start_ns)), polls);
        return 0;
      }
    } else {
      last = s.error_message();
      stub = connect();
    }
    std::this_thread::sleep_for(interval);
  }
  std::fprintf(stderr, "k8s-wait: not synced after %lld ms (%s)%s\n",
               static_cast<long long>(msSince(start_ns)), alive(pid) ? "timeout" : "agent exited",
               last.empty() ? "" : (", last error: " + last).c_str());
  return 1;
}
