// ApiServerTest: the base of e2e tests that drive one tool against a real petrel-apiserver (no
// persistence, bookmarks every second) with the real kubectl: the server, its temp dir and
// kubeconfig, and kubectl helpers. Subclasses call startApiServer() in SetUp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "test/e2e/harness.h"

namespace petrel::e2e {

class ApiServerTest : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  // Starts the server in a fresh temp dir named after `prefix`; fails the test if it does not
  // get ready.
  void startApiServer(const std::string& prefix) {
    ASSERT_TRUE(requireTool("kubectl"));
    ASSERT_TRUE(requireFile(binDir() / "petrel-apiserver",
                            "build it with: ninja -C build petrel-apiserver"));
    dir_ = std::make_unique<TempDir>(prefix);
    apiserver_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{(binDir() / "petrel-apiserver").string(), "--data-dir",
                                 (*dir_ / "data").string(), "--no-persist", "--kubeconfig-out",
                                 kubeconfig().string(), "--bookmark-interval", "1"},
        *dir_ / "apiserver.log");
    bool ready = waitUntil(
        [&] {
          return apiserver_->log().find("petrel-apiserver ready on") != std::string::npos ||
                 !apiserver_->running();
        },
        15s);
    ASSERT_TRUE(ready && apiserver_->running()) << "petrel-apiserver did not start:\n"
                                                << apiserver_->log();
  }
  void TearDown() override {
    apiserver_.reset();
    dir_.reset();
  }

  std::filesystem::path kubeconfig() const { return *dir_ / "kubeconfig"; }

  CmdResult kubectl(std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {"kubectl", "--kubeconfig", kubeconfig().string(),
                                     "--cache-dir", (*dir_ / "kcache").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions o;
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
  std::unique_ptr<BackgroundProcess> apiserver_;
};

}  // namespace petrel::e2e
