// Unit tests: `petrel-cni install` / `uninstall` in temp directories: the files, their content
// and modes, idempotence, removal, and the errors for bad directories and arguments.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cni-plugin/config.h"
#include "cni-plugin/node_install.h"
#include "common/atomic_file.h"

namespace petrel::cni {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh <tmp>/{bin,net.d} and a stand-in for the executable, removed afterwards.
class NodeInstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "petrel-cni-install-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    fs::create_directory(bin());
    fs::create_directory(conf());
    std::ofstream(exe()) << "#!/bin/true\nnot really petrel-cni\n";
    opt_.bin_dir = bin();
    opt_.conf_dir = conf();
    opt_.agent_socket = "/var/run/petrel/petrel.sock";
    opt_.self_exe = exe();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::string bin() const { return (root_ / "bin").string(); }
  std::string conf() const { return (root_ / "net.d").string(); }
  std::string exe() const { return (root_ / "petrel-cni-build").string(); }
  fs::path installedBinary() const { return root_ / "bin" / "petrel-cni"; }
  fs::path conflist() const { return root_ / "net.d" / "10-petrel.conflist"; }

  static std::string read(const fs::path& p) {
    auto text = readWholeFile(p);
    EXPECT_TRUE(text.isOk()) << text.status().toString();
    return text ? *text : "";
  }
  static mode_t modeOf(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& dir : {bin(), conf()}) {
      for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
    }
    return out;
  }
  // Runs the command line; returns the exit code, the output in out_ and the errors in err_.
  int run(std::vector<std::string> args) {
    args.insert(args.begin(), "petrel-cni");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    std::ostringstream out, err;
    int code = runNodeInstaller(static_cast<int>(argv.size()), argv.data(), out, err, exe());
    out_ = out.str();
    err_ = err.str();
    return code;
  }

  fs::path root_;
  InstallOptions opt_;
  std::string out_, err_;
};

TEST_F(NodeInstallTest, InstallWritesBinaryAndConflist) {
  auto done = install(opt_);
  ASSERT_TRUE(done.isOk()) << done.status().toString();
  EXPECT_EQ(*done, (std::vector<std::string>{"wrote " + installedBinary().string(),
                                             "wrote " + conflist().string()}));
  EXPECT_EQ(read(installedBinary()), read(exe()));
  EXPECT_EQ(modeOf(installedBinary()), 0755u);
  EXPECT_EQ(modeOf(conflist()), 0644u);
  json expected = {
      {"cniVersion", "1.0.0"},
      {"name", "petrel"},
      {"plugins", {{{"type", "petrel-cni"}, {"agentSocket", "/var/run/petrel/petrel.sock"}}}}};
  EXPECT_EQ(json::parse(read(conflist())), expected);
  // Only the two files: no temp file is left behind.
  EXPECT_EQ(entries().size(), 2u);
}

TEST_F(NodeInstallTest, ConflistChainsPortmapAndLogFile) {
  opt_.chain_portmap = true;
  opt_.log_file = "/var/log/petrel-cni.log";
  opt_.conf_name = "05-petrel.conflist";
  ASSERT_TRUE(install(opt_).isOk());
  json list = json::parse(read(root_ / "net.d" / "05-petrel.conflist"));
  ASSERT_EQ(list["plugins"].size(), 2u);
  EXPECT_EQ(list["plugins"][0]["logFile"], "/var/log/petrel-cni.log");
  EXPECT_EQ(list["plugins"][1],
            (json{{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}));
}

// The runtime hands petrel-cni its entry of the list with cniVersion and name added: the
// plugin's own parser must read the socket and log file install wrote.
TEST_F(NodeInstallTest, ConflistEntryIsWhatThePluginParses) {
  opt_.agent_socket = "/run/custom/agent.sock";
  opt_.log_file = "/var/log/cni.log";
  json list = json::parse(conflistText(opt_));
  json entry = list["plugins"][0];
  entry["cniVersion"] = list["cniVersion"];
  entry["name"] = list["name"];
  auto conf = parseNetConf(entry.dump());
  ASSERT_TRUE(conf.ok()) << conf.error().msg;
  EXPECT_EQ(conf->type, kPluginBinary);
  EXPECT_EQ(conf->agent_socket, "/run/custom/agent.sock");
  EXPECT_EQ(conf->log_file, "/var/log/cni.log");
}

TEST_F(NodeInstallTest, InstallIsIdempotentAndRepairs) {
  ASSERT_TRUE(install(opt_).isOk());
  const std::string first = read(conflist());
  auto again = install(opt_);
  ASSERT_TRUE(again.isOk()) << again.status().toString();
  EXPECT_EQ(*again, (std::vector<std::string>{installedBinary().string() + " is up to date",
                                              conflist().string() + " is up to date"}));
  EXPECT_EQ(read(conflist()), first);
  EXPECT_EQ(entries().size(), 2u);

  // A wrong mode, or content from another version, is rewritten.
  fs::permissions(installedBinary(), fs::perms(0644));
  std::ofstream(conflist()) << "{}";
  auto repaired = install(opt_);
  ASSERT_TRUE(repaired.isOk()) << repaired.status().toString();
  EXPECT_EQ(*repaired, (std::vector<std::string>{"wrote " + installedBinary().string(),
                                                 "wrote " + conflist().string()}));
  EXPECT_EQ(modeOf(installedBinary()), 0755u);
  EXPECT_EQ(read(conflist()), first);
}

TEST_F(NodeInstallTest, UninstallRemovesBothAndIsIdempotent) {
  ASSERT_TRUE(install(opt_).isOk());
  UninstallOptions un{bin(), conf()};
  auto done = uninstall(un);
  ASSERT_TRUE(done.isOk()) << done.status().toString();
  EXPECT_EQ(*done, (std::vector<std::string>{"removed " + conflist().string(),
                                             "removed " + installedBinary().string()}));
  EXPECT_TRUE(entries().empty());
  auto again = uninstall(un);
  ASSERT_TRUE(again.isOk()) << again.status().toString();
  EXPECT_EQ(*again, (std::vector<std::string>{conflist().string() + " was not there",
                                              installedBinary().string() + " was not there"}));
}

TEST_F(NodeInstallTest, MissingOrFileDirectoriesAreClearErrors) {
  opt_.bin_dir = (root_ / "no-such-dir").string();
  auto missing = install(opt_);
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.status().message().find("CNI binary directory " + opt_.bin_dir),
            std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("--bin-dir"), std::string::npos);

  opt_.bin_dir = bin();
  opt_.conf_dir = exe();  // a file
  auto file = install(opt_);
  ASSERT_FALSE(file.isOk());
  EXPECT_NE(file.status().message().find(exe() + " is not a directory"), std::string::npos)
      << file.status().message();
  EXPECT_NE(file.status().message().find("--conf-dir"), std::string::npos);
  // Nothing was written before the checks failed.
  EXPECT_FALSE(fs::exists(installedBinary()));
}

TEST_F(NodeInstallTest, BadNamesAndPathsAreRejected) {
  opt_.conf_name = "10-petrel.conf";
  auto name = install(opt_);
  ASSERT_FALSE(name.isOk());
  EXPECT_NE(name.status().message().find(".conflist"), std::string::npos);
  opt_.conf_name = "../10-petrel.conflist";
  EXPECT_FALSE(install(opt_).isOk());
  EXPECT_FALSE(uninstall({bin(), conf(), "../x.conflist"}).isOk());

  opt_.conf_name = kDefaultConfName;
  opt_.agent_socket = "petrel.sock";
  auto socket = install(opt_);
  ASSERT_FALSE(socket.isOk());
  EXPECT_NE(socket.status().message().find("--agent-socket \"petrel.sock\" must be an absolute"),
            std::string::npos)
      << socket.status().message();

  opt_.agent_socket = "/var/run/petrel/petrel.sock";
  opt_.self_exe = (root_ / "gone").string();
  auto exe_missing = install(opt_);
  ASSERT_FALSE(exe_missing.isOk());
  EXPECT_NE(exe_missing.status().message().find((root_ / "gone").string()), std::string::npos);
  EXPECT_TRUE(entries().empty());
}

TEST_F(NodeInstallTest, CommandLineInstallAndUninstall) {
  ASSERT_EQ(run({"install", "--bin-dir=" + bin(), "--conf-dir", conf(),
                 "--agent-socket=/var/run/petrel/petrel.sock", "--chain-portmap"}),
            0)
      << err_;
  EXPECT_EQ(out_, "petrel-cni install: wrote " + installedBinary().string() +
                      "\npetrel-cni install: wrote " + conflist().string() + "\n");
  EXPECT_EQ(read(installedBinary()), read(exe()));
  EXPECT_EQ(json::parse(read(conflist()))["plugins"].size(), 2u);

  ASSERT_EQ(run({"uninstall", "--bin-dir", bin(), "--conf-dir", conf()}), 0) << err_;
  EXPECT_EQ(out_, "petrel-cni uninstall: removed " + conflist().string() +
                      "\npetrel-cni uninstall: removed " + installedBinary().string() + "\n");
  EXPECT_TRUE(entries().empty());
}

TEST_F(NodeInstallTest, CommandLineErrorsExitOne) {
  EXPECT_EQ(run({"install", "--bin-dir", bin(), "--agent-socket=/s"}), 1);
  EXPECT_NE(err_.find("--conf-dir"), std::string::npos) << err_;
  EXPECT_EQ(run({"frobnicate"}), 1);
  EXPECT_EQ(run({"install", "--bin-dir", (root_ / "nope").string(), "--conf-dir", conf(),
                 "--agent-socket=/s"}),
            1);
  EXPECT_NE(err_.find("petrel-cni install: CNI binary directory"), std::string::npos) << err_;
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(out_.find("install"), std::string::npos);
  EXPECT_TRUE(entries().empty());
}

}  // namespace
}  // namespace petrel::cni
