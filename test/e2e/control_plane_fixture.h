// ControlPlaneTest: the base of e2e tests that drive one tool against the sandbox's real
// control plane alone (`petrel-sandbox up --nodes 0`: etcd, kube-apiserver, controller manager,
// scheduler) with the real kubectl: the sandbox, a temp dir for the tool's logs, and kubectl
// helpers. Subclasses call startControlPlane() in SetUp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "test/e2e/harness.h"
#include "test/e2e/sandbox_cluster.h"

namespace petrel::e2e {

class ControlPlaneTest : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  // Starts the control plane, and a fresh temp dir named after `prefix` for logs; fails the
  // test if it does not get ready. Needs root (the sandbox's underlay carries the API server's
  // advertised address).
  void startControlPlane(const std::string& prefix) {
    ASSERT_TRUE(requireRoot());
    ASSERT_TRUE(requireTool("kubectl"));
    dir_ = std::make_unique<TempDir>(prefix);
    sandbox_ = std::make_unique<Sandbox>();
    ASSERT_TRUE(sandbox_->up(0));
  }
  void TearDown() override {
    sandbox_.reset();
    dir_.reset();
  }

  std::filesystem::path kubeconfig() const { return sandbox_->kubeconfig(); }

  CmdResult kubectl(std::vector<std::string> args, const std::string& input = "",
                    Millis timeout = 30s) {
    std::vector<std::string> argv = {"kubectl", "--kubeconfig", kubeconfig().string(),
                                     "--cache-dir", (*dir_ / "kcache").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions o;
    o.timeout = timeout;
    o.input = input;
    o.env = {{"HOME", dir_->path().string()}};
    return run(argv, o);
  }
  void must(const std::vector<std::string>& args, const std::string& input = "") {
    CmdResult r = kubectl(args, input);
    ASSERT_TRUE(r.ok()) << "kubectl " << ::testing::PrintToString(args) << ": " << r.describe();
  }
  // `kubectl <args> -o json`, parsed; null when kubectl failed.
  json get(std::vector<std::string> args) {
    args.insert(args.end(), {"-o", "json"});
    CmdResult r = kubectl(args);
    if (!r.ok()) return json();
    return json::parse(r.out, nullptr, false);
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Sandbox> sandbox_;
};

}  // namespace petrel::e2e
