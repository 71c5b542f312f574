// petrel-apiserver: the sandbox cluster's Kubernetes-API-compatible server (127.0.0.1 by default).
//   petrel-apiserver --data-dir DIR [--port N] [--kubeconfig-out PATH] [--event-window N]
// Logs "petrel-apiserver ready on https://127.0.0.1:PORT" once it serves; SIGTERM/SIGINT end
// every watch and exit 0.
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "tools/sandbox/apiserver/credentials.h"
#include "tools/sandbox/apiserver/handler.h"
#include "tools/sandbox/apiserver/persistence.h"
#include "tools/sandbox/apiserver/registry.h"
#include "tools/sandbox/apiserver/server.h"
#include "tools/sandbox/apiserver/store.h"

using namespace petrel::apiserver;

int main(int argc, char** argv) {
  CLI::App app{"petrel-apiserver: a small Kubernetes API server for the Petrel sandbox"};
  std::string dataDir;
  int port = 0;
  std::string kubeconfigOut;
  size_t eventWindow = 10000;
  size_t threads = 128;
  int bookmarkSeconds = 15;
  std::string serviceCidr = "10.96.0.0/16";
  bool noPersist = false;
  bool verbose = false;
  app.add_option("--data-dir", dataDir, "certificates, token and the object snapshot")->required();
  std::string bindAddress = "127.0.0.1";
  std::vector<std::string> tlsSans;
  app.add_option("--bind-address", bindAddress,
                 "IPv4 address to listen on (0.0.0.0 for all, e.g. so that sandbox nodes in "
                 "their own network namespaces reach it over the underlay)")
      ->check(CLI::ValidIPV4)
      ->capture_default_str();
  app.add_option("--tls-san", tlsSans,
                 "extra IPv4 address for the serving certificate (repeatable)")
      ->check(CLI::ValidIPV4);
  app.add_option("--port", port, "TCP port on --bind-address; 0 picks a free one")
      ->check(CLI::Range(0, 65535));
  app.add_option("--kubeconfig-out", kubeconfigOut,
                 "where to write the kubeconfig (default <data-dir>/kubeconfig)");
  app.add_option("--event-window", eventWindow,
                 "changes kept for watches that resume from an older resourceVersion")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--threads", threads, "HTTP worker threads (each open watch holds one)")
      ->check(CLI::Range(4, 4096));
  app.add_option("--bookmark-interval", bookmarkSeconds, "seconds between watch BOOKMARK events")
      ->check(CLI::Range(1, 3600));
  app.add_option("--service-cidr", serviceCidr, "IPv4 CIDR for Service cluster IPs");
  app.add_flag("--no-persist", noPersist, "do not load or write the object snapshot");
  app.add_flag("-v,--verbose", verbose, "log every request");
  CLI11_PARSE(app, argc, argv);

  // Signals go to one waiting thread; every other thread has them blocked.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::filesystem::path dir(dataDir);
  // The kubeconfig names the bound address, or loopback when bound to all of them.
  const std::string kubeHost = bindAddress == "0.0.0.0" ? "127.0.0.1" : bindAddress;
  std::vector<std::string> sans = tlsSans;
  sans.push_back(kubeHost);
  auto creds = loadOrCreateCredentials(dir, sans);
  if (!creds) {
    std::cerr << "petrel-apiserver: credentials: " << creds.status().toString() << "\n";
    return 1;
  }
  ObjectStore store(eventWindow);
  Registry registry;
  std::unique_ptr<Persistence> persistence;
  if (!noPersist) {
    persistence = std::make_unique<Persistence>(store, dir / "objects.json");
    if (auto s = persistence->load(); !s) {
      std::cerr << "petrel-apiserver: " << s.toString() << "\n";
      return 1;
    }
  }
  Handler handler(store, registry, HandlerOptions{creds->token, serviceCidr});
  handler.bootstrap();
  if (persistence) persistence->start();

  ServerOptions so;
  so.host = bindAddress;
  so.port = port;
  so.certFile = creds->serverCert.string();
  so.keyFile = creds->serverKey.string();
  so.threads = threads;
  so.bookmarkInterval = std::chrono::seconds(bookmarkSeconds);
  so.logRequests = verbose;
  Server server(handler, so);
  auto bound = server.bind();
  if (!bound) {
    std::cerr << "petrel-apiserver: " << bound.status().toString() << "\n";
    return 1;
  }
  std::filesystem::path kubeconfig =
      kubeconfigOut.empty() ? dir / "kubeconfig" : std::filesystem::path(kubeconfigOut);
  if (auto s = writeKubeconfig(kubeconfig, *creds, kubeHost, *bound); !s) {
    std::cerr << "petrel-apiserver: kubeconfig: " << s.toString() << "\n";
    return 1;
  }

  std::thread signals([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    spdlog::info("petrel-apiserver: signal {}, shutting down", sig);
    store.shutdown();
    server.stop();
  });
  spdlog::info("petrel-apiserver ready on https://{}:{} (kubeconfig {})", kubeHost, *bound,
               kubeconfig.string());
  std::cout << "petrel-apiserver ready on https://" << kubeHost << ":" << *bound << std::endl;
  server.serve();
  // serve() returns only after stop(); the signal thread has finished its work.
  signals.join();
  persistence.reset();  // final snapshot
  spdlog::info("petrel-apiserver: stopped");
  return 0;
}
