// petrel-cni install / uninstall: checks, the conflist, atomic writes, and the CLI11 command line.
#include "cni-plugin/node_install.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"

namespace petrel::cni {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr mode_t kBinaryMode = 0755;
constexpr mode_t kConfMode = 0644;

// `dir` must be an existing directory; `what` and `flag` name it in the error.
Status checkDir(const std::string& dir, const char* what, const char* flag) {
  if (dir.empty()) return makeError(Code::kInvalidArgument, "{} is empty; pass {}", what, flag);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return makeError(Code::kNotFound,
                     "{} {}: {}; create it, or pass the host's directory (mounted into this "
                     "container) with {}",
                     what, dir, std::strerror(errno), flag);
  }
  if (!S_ISDIR(st.st_mode)) {
    return makeError(Code::kInvalidArgument, "{} {} is not a directory; pass a directory with {}",
                     what, dir, flag);
  }
  return Status::ok();
}

Status checkConfName(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.' ||
      !name.ends_with(".conflist")) {
    return makeError(Code::kInvalidArgument,
                     "--conf-name \"{}\" must be a file name ending in .conflist (runtimes read "
                     "other extensions as single-plugin configs), e.g. {}",
                     name, kDefaultConfName);
  }
  return Status::ok();
}

Status checkAbsolute(const std::string& path, const char* flag) {
  if (!path.empty() && path[0] == '/') return Status::ok();
  return makeError(Code::kInvalidArgument,
                   "{} \"{}\" must be an absolute path (the runtime runs petrel-cni on the host, "
                   "in a directory of its choosing)",
                   flag, path);
}

// Writes `content` to `path` with `mode` unless the file already has both; returns what it did.
Result<std::string> placeFile(const fs::path& path, const std::string& content, mode_t mode) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 07777) == mode) {
    auto current = readWholeFile(path);
    if (current && *current == content) return path.string() + " is up to date";
  }
  PETREL_RETURN_IF_ERROR(
      writeFileAtomic(path, content, mode)
          .withContext("write " + path.string() +
                       " (is the directory writable? the init container must run "
                       "as root with the host directory mounted read-write)"));
  return "wrote " + path.string();
}

// Removes `path`; "not there" is success.
Result<std::string> removeFile(const fs::path& path) {
  if (::unlink(path.c_str()) == 0) return "removed " + path.string();
  if (errno == ENOENT) return path.string() + " was not there";
  return errnoStatus(errno, "remove " + path.string());
}

}  // namespace

std::string conflistText(const InstallOptions& opt) {
  json plugin = {{"type", kPluginBinary}, {"agentSocket", opt.agent_socket}};
  if (!opt.log_file.empty()) plugin["logFile"] = opt.log_file;
  json plugins = json::array({plugin});
  if (opt.chain_portmap) {
    plugins.push_back({{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}});
  }
  json conflist = {{"cniVersion", "1.0.0"}, {"name", "petrel"}, {"plugins", plugins}};
  return conflist.dump(2) + "\n";
}

Result<std::vector<std::string>> install(const InstallOptions& opt) {
  PETREL_RETURN_IF_ERROR(checkDir(opt.bin_dir, "CNI binary directory", "--bin-dir"));
  PETREL_RETURN_IF_ERROR(checkDir(opt.conf_dir, "CNI configuration directory", "--conf-dir"));
  PETREL_RETURN_IF_ERROR(checkConfName(opt.conf_name));
  PETREL_RETURN_IF_ERROR(checkAbsolute(opt.agent_socket, "--agent-socket"));
  if (!opt.log_file.empty()) PETREL_RETURN_IF_ERROR(checkAbsolute(opt.log_file, "--log-file"));

  auto binary = readWholeFile(opt.self_exe);
  if (!binary) return binary.status().withContext("read the petrel-cni executable to install");
  std::vector<std::string> done;
  // The binary first: a conflist naming a plugin the runtime cannot find fails every pod.
  auto placed = placeFile(fs::path(opt.bin_dir) / kPluginBinary, *binary, kBinaryMode);
  if (!placed) return placed.status();
  done.push_back(std::move(*placed));
  placed = placeFile(fs::path(opt.conf_dir) / opt.conf_name, conflistText(opt), kConfMode);
  if (!placed) return placed.status();
  done.push_back(std::move(*placed));
  return done;
}

Result<std::vector<std::string>> uninstall(const UninstallOptions& opt) {
  if (opt.bin_dir.empty() || opt.conf_dir.empty()) {
    return makeError(Code::kInvalidArgument, "--bin-dir and --conf-dir must not be empty");
  }
  PETREL_RETURN_IF_ERROR(checkConfName(opt.conf_name));
  std::vector<std::string> done;
  // The conflist first: without it the runtime no longer calls the binary.
  for (const fs::path& path :
       {fs::path(opt.conf_dir) / opt.conf_name, fs::path(opt.bin_dir) / kPluginBinary}) {
    auto removed = removeFile(path);
    if (!removed) return removed.status();
    done.push_back(std::move(*removed));
  }
  return done;
}

int runNodeInstaller(int argc, char** argv, std::ostream& out, std::ostream& err,
                     const std::string& self_exe) {
  CLI::App app{
      "petrel-cni: Petrel's CNI plugin. Runtimes run it with CNI_COMMAND set; without it, "
      "`install` and `uninstall` put it on a node or take it off."};
  app.require_subcommand(1);
  // The options install and uninstall share: where the two files go.
  auto add_places = [](CLI::App* cmd, std::string& bin_dir, std::string& conf_dir,
                       std::string& conf_name) {
    cmd->add_option("--bin-dir", bin_dir, "CNI binary directory")->required();
    cmd->add_option("--conf-dir", conf_dir, "CNI configuration directory")->required();
    cmd->add_option("--conf-name", conf_name, "File name of the conflist")->capture_default_str();
  };
  InstallOptions in;
  in.self_exe = self_exe;
  auto* install_cmd = app.add_subcommand(
      "install", "Copy this executable into --bin-dir and write the conflist into --conf-dir");
  add_places(install_cmd, in.bin_dir, in.conf_dir, in.conf_name);
  install_cmd->add_option("--agent-socket", in.agent_socket, "The agent's API socket on the host")
      ->required();
  install_cmd->add_flag("--chain-portmap", in.chain_portmap,
                        "Chain the reference portmap plugin (hostPort; its binary must be in "
                        "--bin-dir)");
  install_cmd->add_option("--log-file", in.log_file,
                          "File petrel-cni appends its warnings to (logFile)");
  UninstallOptions un;
  auto* uninstall_cmd = app.add_subcommand(
      "uninstall", "Remove the conflist from --conf-dir and petrel-cni from --bin-dir");
  add_places(uninstall_cmd, un.bin_dir, un.conf_dir, un.conf_name);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? 0 : 1;
  }

  const char* verb = install_cmd->parsed() ? "install" : "uninstall";
  auto done = install_cmd->parsed() ? install(in) : uninstall(un);
  if (!done) {
    err << "petrel-cni " << verb << ": " << done.status().message() << "\n";
    return 1;
  }
  for (const auto& line : *done) out << "petrel-cni " << verb << ": " << line << "\n";
  return 0;
}

}  // namespace petrel::cni
