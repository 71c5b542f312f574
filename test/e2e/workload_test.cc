// End-to-end tests of petrel-workload, the sandbox pods' server, with real clients: curl for
// HTTP (/, /json with the client address the server saw, /healthz, /status, /delay, /bytes), socat
// for the TCP greeting+echo and the UDP name+echo; a taken port must exit 1 with a clear message
// and SIGTERM must end it within a second. Runs on 127.0.0.1, no root needed.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test/e2e/harness.h"

namespace petrel::e2e {
namespace {

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// One curl request: status code, content type, curl's own local port and the body.
struct HttpReply {
  CmdResult cmd;
  int status = 0;
  std::string contentType;
  std::string localPort;
  std::string body;
};

class WorkloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(requireTool("curl"));
    ASSERT_TRUE(requireTool("socat"));
    ASSERT_TRUE(requireFile(binDir() / "petrel-workload",
                            "build it with `ninja -C build petrel-workload`"));
    name_ = uniqueName("wl");
    proc_ = start({"--name", name_}, {});
    ASSERT_TRUE(proc_) << "petrel-workload did not start: " << startError_;
  }

  // Starts petrel-workload on 127.0.0.1 with fresh ports (retrying when one happens to be in use
  // by someone else) and waits for its "ready" line; null on failure, with startError_ set.
  std::unique_ptr<BackgroundProcess> start(const std::vector<std::string>& args,
                                           const std::map<std::string, std::string>& env) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      httpPort_ = uniquePort();
      tcpPort_ = uniquePort();
      udpPort_ = uniquePort();
      std::vector<std::string> argv = {(binDir() / "petrel-workload").string(),
                                       "--bind",
                                       "127.0.0.1",
                                       "--http-port",
                                       std::to_string(httpPort_),
                                       "--tcp-port",
                                       std::to_string(tcpPort_),
                                       "--udp-port",
                                       std::to_string(udpPort_)};
      argv.insert(argv.end(), args.begin(), args.end());
      auto log = dir_ / (uniqueName("wl") + ".log");
      auto p = std::make_unique<BackgroundProcess>(argv, log, env);
      bool ready = waitUntil(
          [&] { return p->log().find(" ready: ") != std::string::npos || !p->running(); }, 10s);
      if (ready && p->running()) {
        logPath_ = log;
        return p;
      }
      startError_ = p->log();
      if (startError_.find("in use") == std::string::npos) return nullptr;
    }
    return nullptr;
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(httpPort_) + path;
  }

  HttpReply curl(const std::string& path, std::vector<std::string> extra = {}) {
    auto body = dir_ / uniqueName("body");
    std::vector<std::string> argv = {
        "curl", "-sS",         "-m", "10",
        "-o",   body.string(), "-w", "%{http_code} %{local_port} %{content_type}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url(path));
    HttpReply reply;
    reply.cmd = run(argv);
    std::istringstream meta(reply.cmd.out);
    meta >> reply.status >> reply.localPort;
    std::getline(meta >> std::ws, reply.contentType);
    reply.body = readFile(body);
    return reply;
  }

  TempDir dir_{"pe2e-wl"};
  std::string name_;
  std::unique_ptr<BackgroundProcess> proc_;
  std::filesystem::path logPath_;
  std::string startError_;
  uint16_t httpPort_ = 0, tcpPort_ = 0, udpPort_ = 0;
};

TEST_F(WorkloadTest, HttpRootNamesThePod) {
  HttpReply r = curl("/");
  ASSERT_TRUE(r.cmd.ok()) << r.cmd.describe();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.contentType.rfind("text/plain", 0), 0u) << r.contentType;
  EXPECT_EQ(r.body, name_ + "\n");

  HttpReply health = curl("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok");

  HttpReply missing = curl("/no-such-path");
  EXPECT_EQ(missing.status, 404);
}

TEST_F(WorkloadTest, HttpJsonShowsTheClientAddressTheServerSaw) {
  HttpReply r = curl("/json?x=1", {"-H", "X-Petrel-Test: abc"});
  ASSERT_TRUE(r.cmd.ok()) << r.cmd.describe();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.contentType.rfind("application/json", 0), 0u) << r.contentType;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j.value("name", ""), name_);
  // curl reports the source port it used: the server must have seen exactly that client.
  EXPECT_EQ(j.value("client", ""), "127.0.0.1:" + r.localPort) << r.body;
  EXPECT_EQ(j.value("server", ""), "127.0.0.1:" + std::to_string(httpPort_));
  EXPECT_EQ(j.value("path", ""), "/json");
  ASSERT_TRUE(j["headers"].is_object()) << r.body;
  EXPECT_EQ(j["headers"].value("X-Petrel-Test", ""), "abc") << r.body;
  EXPECT_EQ(j["headers"].value("User-Agent", "").rfind("curl/", 0), 0u) << r.body;
  EXPECT_FALSE(j["headers"].contains("REMOTE_ADDR")) << r.body;

  // One log line per request, naming both ends.
  std::string log = proc_->log();
  EXPECT_NE(log.find("http 127.0.0.1:" + r.localPort +
                     " -> 127.0.0.1:" + std::to_string(httpPort_) + " GET /json 200"),
            std::string::npos)
      << log;
}

TEST_F(WorkloadTest, HttpStatusAndDelay) {
  HttpReply unavailable = curl("/status/503");
  ASSERT_TRUE(unavailable.cmd.ok()) << unavailable.cmd.describe();
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_EQ(unavailable.body, name_ + "\n");
  EXPECT_EQ(curl("/status/418").status, 418);
  EXPECT_EQ(curl("/status/42").status, 400);
  EXPECT_EQ(curl("/status/99999999999999999999999").status, 400);

  auto begin = std::chrono::steady_clock::now();
  HttpReply slow = curl("/delay/300");
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.body, name_ + "\n");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);

  // A client timeout shorter than the delay: curl gives up (exit 28), the server carries on.
  HttpReply timedOut = curl("/delay/3000", {"-m", "0.5"});
  EXPECT_EQ(timedOut.cmd.exitCode, 28) << timedOut.cmd.describe();
  EXPECT_EQ(curl("/").status, 200);
}

TEST_F(WorkloadTest, HttpBytesAnswersThatManyBytes) {
  HttpReply big = curl("/bytes/3000000");
  ASSERT_TRUE(big.cmd.ok()) << big.cmd.describe();
  EXPECT_EQ(big.status, 200);
  EXPECT_EQ(big.contentType, "application/octet-stream");
  EXPECT_EQ(big.body, std::string(3000000, 'x'));
  HttpReply empty = curl("/bytes/0");
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(empty.body, "");
  EXPECT_EQ(curl("/bytes/1073741825").status, 400);
  EXPECT_EQ(curl("/bytes/99999999999999999999999").status, 400);
}

TEST_F(WorkloadTest, TcpGreetsThenEchoesEveryByte) {
  std::string port = std::to_string(tcpPort_);
  CmdResult small = sh("printf 'hello\\nworld\\n' | socat -t 5 - TCP:127.0.0.1:" + port);
  ASSERT_TRUE(small.ok()) << small.describe();
  EXPECT_EQ(small.out, name_ + "\nhello\nworld\n");

  // 2 MiB of random bytes: more than the server buffers per connection, so flow control and
  // partial writes are exercised; the peer's half-close ends the echo after the last byte.
  std::string payload(2 << 20, '\0');
  std::mt19937 rng(42);
  for (char& c : payload) c = static_cast<char>(rng());
  auto in = dir_ / "payload";
  auto out = dir_ / "echoed";
  std::ofstream(in, std::ios::binary) << payload;
  CmdResult big =
      sh("socat -t 10 -T 20 - TCP:127.0.0.1:" + port + " < " + in.string() + " > " + out.string(),
         RunOptions{.timeout = 60s});
  ASSERT_TRUE(big.ok()) << big.describe();
  std::string echoed = readFile(out);
  ASSERT_EQ(echoed.size(), name_.size() + 1 + payload.size());
  EXPECT_EQ(echoed.substr(0, name_.size() + 1), name_ + "\n");
  EXPECT_TRUE(echoed.compare(name_.size() + 1, std::string::npos, payload) == 0)
      << "echoed bytes differ from the ones sent";

  std::string log = proc_->log();
  EXPECT_NE(log.find("-> 127.0.0.1:" + port + " connected"), std::string::npos) << log;
}

TEST_F(WorkloadTest, UdpAnswersWithNameAndPayload) {
  std::string port = std::to_string(udpPort_);
  CmdResult r = sh("printf ping-1 | socat -t 2 - UDP:127.0.0.1:" + port);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, name_ + " ping-1");
  std::string log = proc_->log();
  EXPECT_NE(log.find("-> 127.0.0.1:" + port + " 6 bytes"), std::string::npos) << log;
}

TEST_F(WorkloadTest, TakenPortExitsOneWithAClearMessage) {
  const std::string bin = (binDir() / "petrel-workload").string();
  struct Case {
    std::string flag;
    uint16_t port;
  };
  for (const Case& c : {Case{"--http-port", httpPort_}, Case{"--tcp-port", tcpPort_},
                        Case{"--udp-port", udpPort_}}) {
    std::vector<std::string> argv = {
        bin, "--bind", "127.0.0.1", "--http-port", "0", "--tcp-port", "0", "--udp-port", "0"};
    // The flag under test takes the port the running instance holds.
    for (size_t i = 3; i < argv.size(); i += 2) {
      if (argv[i] == c.flag) argv[i + 1] = std::to_string(c.port);
    }
    CmdResult r = run(argv, RunOptions{.timeout = 10s});
    EXPECT_EQ(r.exitCode, 1) << c.flag << ": " << r.describe();
    EXPECT_NE(r.err.find("port " + std::to_string(c.port) + " in use: "), std::string::npos)
        << c.flag << ": " << r.err;
  }
  EXPECT_TRUE(proc_->running()) << "the first instance must keep its ports";
}

TEST_F(WorkloadTest, NameDefaultsToPodNameEnv) {
  std::string podName = uniqueName("wlpod");
  auto p = start({}, {{"POD_NAME", podName}});
  ASSERT_TRUE(p) << startError_;
  HttpReply r = curl("/");
  EXPECT_EQ(r.body, podName + "\n");
  CmdResult udp = sh("printf x | socat -t 2 - UDP:127.0.0.1:" + std::to_string(udpPort_));
  EXPECT_EQ(udp.out, podName + " x");
}

TEST_F(WorkloadTest, SigtermExitsCleanlyWithinOneSecondWhileBusy) {
  // An open TCP connection and an HTTP request sleeping in /delay must not hold up the exit.
  BackgroundProcess tcpClient(
      {"socat", "-T", "30", "-", "TCP:127.0.0.1:" + std::to_string(tcpPort_)},
      dir_ / "tcp-client.log");
  BackgroundProcess httpClient({"curl", "-sS", "-m", "30", url("/delay/30000")},
                               dir_ / "http-client.log");
  ASSERT_TRUE(waitUntil(
      [&] {
        std::string log = proc_->log();
        return log.find(" connected") != std::string::npos;
      },
      5s))
      << proc_->log();
  // The /delay request is in its handler once the server has read it: the server's side of the
  // connection has received bytes and has none left unread (Recv-Q 0).
  auto requestRead = [&] {
    auto r = sh("ss -Htni '( sport = :" + std::to_string(httpPort_) + " )'");
    std::istringstream lines(r.out);
    bool unread_empty = false;
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string state, recv_q;
      fields >> state >> recv_q;
      if (state == "ESTAB") {
        unread_empty = recv_q == "0";
      } else if (unread_empty && line.find("bytes_received:") != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(waitUntil(requestRead, 5s, 20ms)) << "the /delay request was not read\n"
                                                << sh("ss -tni").out;
  auto status = proc_->signalAndWait(SIGTERM, 1s);
  ASSERT_TRUE(status.has_value()) << "still running 1 s after SIGTERM\n" << proc_->log();
  EXPECT_EQ(*status, 0) << proc_->log();
  EXPECT_NE(proc_->log().find("SIGTERM, exiting"), std::string::npos) << proc_->log();
  EXPECT_EQ(httpClient.wait(5s).value_or(-1), 0) << "the sleeping request should get an answer";
}

}  // namespace
}  // namespace petrel::e2e
