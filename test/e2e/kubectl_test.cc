// End-to-end: the real kubectl 1.32 against petrel-apiserver (the sandbox's Kubernetes API
// server) over HTTPS with the kubeconfig the server writes. Needs kubectl and
// build/bin/petrel-apiserver; no root.
#include <signal.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

using nlohmann::json;

class Kubectl : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireTool("kubectl"));
    ASSERT_TRUE(requireFile(binDir() / "petrel-apiserver",
                            "build it with: ninja -C build petrel-apiserver"));
    dir_ = std::make_unique<TempDir>("pe2e-kubectl");
    ASSERT_TRUE(startServer());
  }
  void TearDown() override {
    server_.reset();
    dir_.reset();
  }

  std::filesystem::path kubeconfig() const { return *dir_ / "kubeconfig"; }
  std::string fixture(const std::string& name) const {
    return (sourceDir() / "test/fixtures/k8s" / name).string();
  }
  std::map<std::string, std::string> env() const { return {{"HOME", dir_->path().string()}}; }

  // Starts petrel-apiserver on a free port with the temp data dir and waits for its ready line.
  // It logs every request (-v), so tests can wait for one to have reached it.
  ::testing::AssertionResult startServer() {
    auto log = *dir_ / ("apiserver-" + std::to_string(++starts_) + ".log");
    server_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{(binDir() / "petrel-apiserver").string(), "--data-dir",
                                 (*dir_ / "data").string(), "--port", "0", "--kubeconfig-out",
                                 kubeconfig().string(), "--bookmark-interval", "1", "-v"},
        log);
    for (int i = 0; i < 150; ++i) {
      std::string text = server_->log();
      std::smatch m;
      if (std::regex_search(
              text, m, std::regex("petrel-apiserver ready on https://127\\.0\\.0\\.1:(\\d+)"))) {
        port_ = std::stoi(m[1]);
        return ::testing::AssertionSuccess();
      }
      if (!server_->running()) break;
      std::this_thread::sleep_for(100ms);
    }
    return ::testing::AssertionFailure() << "petrel-apiserver did not get ready; log:\n"
                                         << server_->log();
  }

  CmdResult kubectl(std::vector<std::string> args, Millis timeout = 30s) {
    std::vector<std::string> argv = {"kubectl", "--kubeconfig", kubeconfig().string(),
                                     "--cache-dir", (*dir_ / "cache").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions o;
    o.timeout = timeout;
    o.env = env();
    return run(argv, o);
  }
  // kubectl that must succeed; returns stdout.
  std::string ok(std::vector<std::string> args) {
    CmdResult r = kubectl(args);
    EXPECT_TRUE(r.ok()) << "kubectl " << ::testing::PrintToString(args) << ": " << r.describe();
    return r.out;
  }
  json getJson(std::vector<std::string> args) {
    args.push_back("-o");
    args.push_back("json");
    std::string out = ok(args);
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
  }
  void createFixtures() {
    for (const char* f : {"namespace.yaml", "node.yaml", "pod.yaml", "service.yaml",
                          "networkpolicy.yaml", "endpointslice.yaml", "crd.yaml"}) {
      std::string out = ok({"create", "-f", fixture(f)});
      EXPECT_NE(out.find("created"), std::string::npos) << f << ": " << out;
    }
  }
  std::filesystem::path writeFile(const std::string& name, const std::string& content) {
    auto p = *dir_ / name;
    std::ofstream(p) << content;
    return p;
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<BackgroundProcess> server_;
  int starts_ = 0;
  int port_ = 0;
};

TEST_F(Kubectl, GetOnAFreshClusterAndDiscovery) {
  EXPECT_TRUE(kubectl({"get", "nodes"}).ok());
  EXPECT_TRUE(kubectl({"get", "pods", "-A"}).ok());
  EXPECT_TRUE(kubectl({"get", "svc", "-A"}).ok());
  std::string ns = ok({"get", "ns"});
  EXPECT_NE(ns.find("default"), std::string::npos) << ns;
  EXPECT_NE(ns.find("kube-system"), std::string::npos) << ns;
  std::string res = ok({"api-resources"});
  for (const char* s : {"po ", "svc ", "no ", "ns ", "netpol ", "endpointslices", "leases",
                        "customresourcedefinitions"}) {
    EXPECT_NE(res.find(s), std::string::npos) << s << " missing from:\n" << res;
  }
  std::string version = ok({"version", "-o", "json"});
  EXPECT_NE(version.find("\"serverVersion\""), std::string::npos) << version;
}

TEST_F(Kubectl, CreateAndApplyEveryKindThenGet) {
  createFixtures();
  std::string applied = ok({"apply", "-f", fixture("trafficpolicy.yaml")});
  EXPECT_NE(applied.find("trafficpolicy.petrel.io/web-split created"), std::string::npos)
      << applied;

  std::string wide = ok({"get", "pods", "-A", "-o", "wide"});
  EXPECT_TRUE(std::regex_search(
      wide, std::regex("shop\\s+web-0\\s+0/1\\s+Pending\\s+0\\s+\\S+\\s+<none>\\s+node-a")))
      << wide;
  std::string svc = ok({"get", "svc", "-n", "shop"});
  EXPECT_TRUE(std::regex_search(
      svc, std::regex("web\\s+ClusterIP\\s+10\\.96\\.\\d+\\.\\d+\\s+<none>\\s+80/TCP")))
      << svc;
  EXPECT_NE(ok({"get", "netpol", "-n", "shop"}).find("web-allow-frontend"), std::string::npos);
  EXPECT_NE(ok({"get", "endpointslices", "-n", "shop"}).find("10.244.0.5"), std::string::npos);
  EXPECT_NE(ok({"get", "tp", "-n", "shop"}).find("web-split"), std::string::npos);
  EXPECT_NE(ok({"get", "nodes", "-o", "wide"}).find("192.168.50.2"), std::string::npos);
  EXPECT_NE(ok({"get", "pods", "-A", "-l", "app=web,tier in (frontend)"}).find("web-0"),
            std::string::npos);
  EXPECT_EQ(ok({"get", "pods", "-A", "-l", "app!=web", "-o", "name"}), "");
  EXPECT_NE(ok({"get", "pods", "-A", "--field-selector", "spec.nodeName=node-a", "-o", "name"})
                .find("pod/web-0"),
            std::string::npos);

  json pod = getJson({"get", "pod", "web-0", "-n", "shop"});
  EXPECT_EQ(pod["kind"], "Pod");
  EXPECT_EQ(pod["metadata"]["namespace"], "shop");
  EXPECT_EQ(pod["metadata"]["labels"]["app"], "web");
  EXPECT_EQ(pod["spec"]["nodeName"], "node-a");
  EXPECT_EQ(pod["status"]["phase"], "Pending");
  EXPECT_EQ(pod["metadata"]["uid"].get<std::string>().size(), 36u);
  EXPECT_TRUE(
      std::regex_match(pod["metadata"]["resourceVersion"].get<std::string>(), std::regex("\\d+")));
  json tp = getJson({"get", "trafficpolicy", "web-split", "-n", "shop"});
  EXPECT_EQ(tp["spec"]["split"][1]["weight"], 10);

  CmdResult dup = kubectl({"create", "-f", fixture("pod.yaml")});
  EXPECT_EQ(dup.exitCode, 1);
  EXPECT_NE(dup.err.find("AlreadyExists"), std::string::npos) << dup.err;
}

TEST_F(Kubectl, ApplyChangedServiceAndNetworkPolicy) {
  ok({"apply", "-f", fixture("namespace.yaml")});
  EXPECT_NE(ok({"apply", "-f", fixture("service.yaml")}).find("created"), std::string::npos);
  std::string ip = ok({"get", "svc", "web", "-n", "shop", "-o", "jsonpath={.spec.clusterIP}"});
  EXPECT_NE(ok({"apply", "-f", fixture("service-changed.yaml")}).find("service/web configured"),
            std::string::npos);
  json svc = getJson({"get", "svc", "web", "-n", "shop"});
  ASSERT_EQ(svc["spec"]["ports"].size(), 2u) << svc.dump();
  EXPECT_EQ(svc["spec"]["ports"][0]["port"], 8080);
  EXPECT_EQ(svc["spec"]["ports"][1]["port"], 9090);
  EXPECT_EQ(svc["metadata"]["labels"]["version"], "v2");
  EXPECT_EQ(svc["spec"]["clusterIP"], ip);  // kept across the update
  // Back to the original: the second port and the label go away again.
  ok({"apply", "-f", fixture("service.yaml")});
  svc = getJson({"get", "svc", "web", "-n", "shop"});
  ASSERT_EQ(svc["spec"]["ports"].size(), 1u) << svc.dump();
  EXPECT_EQ(svc["spec"]["ports"][0]["port"], 80);
  EXPECT_FALSE(svc["metadata"]["labels"].contains("version"));

  EXPECT_NE(ok({"apply", "-f", fixture("networkpolicy.yaml")}).find("created"), std::string::npos);
  EXPECT_NE(ok({"apply", "-f", fixture("networkpolicy.yaml")}).find("unchanged"),
            std::string::npos);
  std::ifstream in(fixture("networkpolicy.yaml"));
  std::string np((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  np.replace(np.find("port: 8080"), 10, "port: 9443");
  auto changed = writeFile("netpol-changed.yaml", np);
  EXPECT_NE(ok({"apply", "-f", changed.string()}).find("configured"), std::string::npos);
  json pol = getJson({"get", "netpol", "web-allow-frontend", "-n", "shop"});
  EXPECT_EQ(pol["spec"]["ingress"][0]["ports"][0]["port"], 9443);
  EXPECT_EQ(pol["metadata"]["generation"], 2);
}

TEST_F(Kubectl, ReplaceAndDelete) {
  createFixtures();
  std::ifstream in(fixture("pod.yaml"));
  std::string pod((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  pod.replace(pod.find("tier: frontend"), 14, "tier: backend");
  auto changed = writeFile("pod-changed.yaml", pod);
  EXPECT_NE(ok({"replace", "-f", changed.string()}).find("pod/web-0 replaced"), std::string::npos);
  EXPECT_EQ(ok({"get", "pod", "web-0", "-n", "shop", "-o", "jsonpath={.metadata.labels.tier}"}),
            "backend");

  // The pod is bound to a node and no kubelet runs here to finish a graceful deletion, so it is
  // force-deleted (grace 0), as a user would with a node gone.
  std::string del = ok({"delete", "-f", fixture("pod.yaml"), "--grace-period=0", "--force"});
  EXPECT_NE(del.find("pod \"web-0\""), std::string::npos) << del;
  CmdResult gone = kubectl({"get", "pod", "web-0", "-n", "shop"});
  EXPECT_EQ(gone.exitCode, 1);
  EXPECT_NE(gone.err.find("NotFound"), std::string::npos) << gone.err;
  // Deleting the namespace takes its objects with it.
  ok({"delete", "-f", fixture("namespace.yaml")});
  EXPECT_EQ(ok({"get", "svc,netpol,endpointslices", "-n", "shop", "-o", "name"}), "");
  // Deleting the CRD stops serving its resource.
  ok({"delete", "-f", fixture("crd.yaml")});
  CmdResult noType = kubectl({"get", "trafficpolicies", "-A"});
  EXPECT_NE(noType.exitCode, 0) << noType.describe();
}

TEST_F(Kubectl, WatchSeesAnotherClientsCreate) {
  ok({"create", "-f", fixture("namespace.yaml")});
  ok({"create", "-f", fixture("pod.yaml")});
  BackgroundProcess watch({"kubectl", "--kubeconfig", kubeconfig().string(), "--cache-dir",
                           (*dir_ / "cache").string(), "get", "pods", "-n", "shop", "-w"},
                          *dir_ / "watch.log", env());
  bool listed = false;
  for (int i = 0; i < 100 && !listed; ++i) {
    listed = watch.log().find("web-0") != std::string::npos;
    if (!listed) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(listed) << watch.log();
  // The server logs a watch request once its watch is registered: from then on it sees every
  // change.
  auto watching = [&] {
    std::istringstream lines(server_->log());
    for (std::string line; std::getline(lines, line);) {
      if (line.find("GET /api/v1/namespaces/shop/pods?") != std::string::npos &&
          line.find("(watch)") != std::string::npos)
        return true;
    }
    return false;
  };
  ASSERT_TRUE(waitUntil(watching, 10s, 20ms)) << server_->log();
  ok({"run", "late-arrival", "--image=registry.local/x:1", "-n", "shop"});
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    seen = watch.log().find("late-arrival") != std::string::npos;
    if (!seen) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(seen) << "kubectl get -w did not print the new pod; its output:\n" << watch.log();
  EXPECT_TRUE(watch.running()) << watch.log();
  watch.terminate();
}

TEST_F(Kubectl, StaleReplaceIsAConflict) {
  createFixtures();
  json before = getJson({"get", "pod", "web-0", "-n", "shop"});
  ok({"label", "pod", "web-0", "-n", "shop", "touched=yes"});
  auto stale = writeFile("stale.json", before.dump());
  CmdResult r = kubectl({"replace", "-f", stale.string()});
  EXPECT_EQ(r.exitCode, 1) << r.describe();
  EXPECT_NE(r.err.find("Conflict"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the object has been modified"), std::string::npos) << r.err;
  EXPECT_EQ(ok({"get", "pod", "web-0", "-n", "shop", "-o", "jsonpath={.metadata.labels.touched}"}),
            "yes");
}

TEST_F(Kubectl, WrongTokenIsUnauthorized) {
  std::ifstream in(kubeconfig());
  std::string kc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto pos = kc.find("token: ");
  ASSERT_NE(pos, std::string::npos) << kc;
  kc.replace(pos + 7, 8, "deadbeef");
  auto bad = writeFile("bad-kubeconfig", kc);
  RunOptions o;
  o.env = env();
  CmdResult r = run({"kubectl", "--kubeconfig", bad.string(), "get", "pods"}, o);
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("You must be logged in to the server"), std::string::npos) << r.describe();
}

TEST_F(Kubectl, RestartKeepsObjectsAndResourceVersion) {
  createFixtures();
  json created = getJson({"get", "pod", "web-0", "-n", "shop"});
  // The debounced snapshot has the pod ...
  const std::string uid = created["metadata"]["uid"];
  ASSERT_TRUE(waitUntil(
      [&] {
        std::ifstream in(*dir_ / "data" / "objects.json");
        std::stringstream text;
        text << in.rdbuf();
        return text.str().find(uid) != std::string::npos;
      },
      10s, 20ms))
      << "no snapshot with the pod was written";
  // ... and a change right before SIGTERM is kept by the final one.
  ok({"label", "pod", "web-0", "-n", "shop", "restarted=yes"});
  json before = getJson({"get", "pod", "web-0", "-n", "shop"});
  auto status = server_->signalAndWait(SIGTERM, 10s);
  ASSERT_TRUE(status.has_value()) << "petrel-apiserver ignored SIGTERM:\n" << server_->log();
  EXPECT_EQ(*status, 0) << server_->log();
  EXPECT_FALSE(kubectl({"get", "pods", "-A", "--request-timeout=2s"}, 10s).ok());
  ASSERT_TRUE(startServer());
  json after = getJson({"get", "pod", "web-0", "-n", "shop"});
  EXPECT_EQ(after["metadata"]["uid"], before["metadata"]["uid"]);
  EXPECT_EQ(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
  EXPECT_EQ(after["metadata"]["labels"].value("restarted", ""), "yes");
  ok({"get", "tp", "-A"});  // the CRD's type is served again after the restart
  ok({"apply", "-f", fixture("trafficpolicy.yaml")});
  json tp = getJson({"get", "tp", "web-split", "-n", "shop"});
  EXPECT_GT(std::stoull(tp["metadata"]["resourceVersion"].get<std::string>()),
            std::stoull(before["metadata"]["resourceVersion"].get<std::string>()));
}

}  // namespace
// Sandbox nodes live in their own network namespaces and reach the API server over the underlay:
// it must listen where asked and name that address in its certificate, and only there.
TEST(KubectlBindAddress, ServesOnTheBindAddressWithItInTheCertificate) {
  ASSERT_TRUE(requireTool("curl"));
  ASSERT_TRUE(
      requireFile(binDir() / "petrel-apiserver", "build it with: ninja -C build petrel-apiserver"));
  TempDir dir("pe2e-apibind");
  BackgroundProcess server(
      {(binDir() / "petrel-apiserver").string(), "--data-dir", (dir / "data").string(), "--port",
       "0", "--bind-address", "0.0.0.0", "--tls-san", "127.0.0.2"},
      dir / "apiserver.log");
  int port = 0;
  for (int i = 0; i < 150 && port == 0; ++i) {
    std::smatch m;
    std::string text = server.log();
    if (std::regex_search(text, m, std::regex("ready on https://127\\.0\\.0\\.1:(\\d+)"))) {
      port = std::stoi(m[1]);
    } else {
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_NE(port, 0) << "petrel-apiserver did not get ready; log:\n" << server.log();
  std::ifstream token_file(dir / "data" / "token");
  std::string token;
  std::getline(token_file, token);
  auto curl = [&](const std::string& ip) {
    return run({"curl", "-sS", "--max-time", "5", "--cacert", (dir / "data" / "ca.crt").string(),
                "-H", "Authorization: Bearer " + token,
                "https://" + ip + ":" + std::to_string(port) + "/version"});
  };
  CmdResult san = curl("127.0.0.2");
  EXPECT_TRUE(san.ok()) << san.describe();
  EXPECT_NE(san.out.find("gitVersion"), std::string::npos) << san.out;
  CmdResult other = curl("127.0.0.3");  // reachable (0.0.0.0) but not in the certificate
  EXPECT_EQ(other.exitCode, 60) << "curl must reject the certificate: " << other.describe();
}

TEST_F(Kubectl, ServerDryRunStoresNothingAndATakenClusterIPIsInvalid) {
  ok({"create", "-f", fixture("namespace.yaml")});
  std::string out = ok({"create", "-f", fixture("service.yaml"), "--dry-run=server"});
  EXPECT_NE(out.find("server dry run"), std::string::npos) << out;
  CmdResult missing = kubectl({"get", "svc", "web", "-n", "shop"});
  EXPECT_EQ(missing.exitCode, 1);
  EXPECT_NE(missing.err.find("NotFound"), std::string::npos) << missing.err;

  ok({"create", "-f", fixture("service.yaml")});
  std::string ip = ok({"get", "svc", "web", "-n", "shop", "-o", "jsonpath={.spec.clusterIP}"});
  auto twin = writeFile("twin.yaml",
                        "apiVersion: v1\nkind: Service\nmetadata:\n  name: twin\n"
                        "  namespace: shop\nspec:\n  clusterIP: " +
                            ip + "\n  ports:\n  - port: 80\n");
  CmdResult taken = kubectl({"create", "-f", twin.string()});
  EXPECT_EQ(taken.exitCode, 1);
  EXPECT_NE(taken.err.find("provided IP is already allocated"), std::string::npos) << taken.err;

  out = ok({"delete", "svc", "web", "-n", "shop", "--dry-run=server"});
  EXPECT_NE(out.find("server dry run"), std::string::npos) << out;
  EXPECT_EQ(ok({"get", "svc", "web", "-n", "shop", "-o", "jsonpath={.spec.clusterIP}"}), ip);
}

}  // namespace petrel::e2e
