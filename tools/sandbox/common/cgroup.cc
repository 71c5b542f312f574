// cgroup2 mount lookup, node cgroup creation/removal, moving processes.
#include "tools/sandbox/common/cgroup.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "common/unique_fd.h"

namespace petrel::sandbox {

namespace fs = std::filesystem;

namespace {

// /proc/self/mounts writes ' ', '\t', '\n' and '\\' in paths as \ooo.
std::string unescapeMountPath(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto octal = [&](size_t at) { return at < s.size() && s[at] >= '0' && s[at] <= '7'; };
    if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string cgroup2MountFromMounts(const std::string& mounts) {
  std::istringstream lines(mounts);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string source, target, type;
    if (fields >> source >> target >> type && type == "cgroup2") return unescapeMountPath(target);
  }
  return "";
}

std::string cgroup2PathFromProcCgroup(const std::string& proc_cgroup) {
  std::istringstream lines(proc_cgroup);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

Result<std::string> findOrMountCgroup2(const std::string& fallback_dir, bool* mounted) {
  if (mounted) *mounted = false;
  std::string found = cgroup2MountFromMounts(readAll("/proc/self/mounts"));
  if (!found.empty()) return found;
  std::error_code ec;
  fs::create_directories(fallback_dir, ec);
  if (ec) {
    return makeError(Code::kInternal, "no cgroup2 is mounted and {} cannot be made: {}",
                     fallback_dir, ec.message());
  }
  if (mount("cgroup2", fallback_dir.c_str(), "cgroup2", 0, nullptr) != 0) {
    return errnoStatus(errno,
                       fmt::format("no cgroup2 is mounted; mount cgroup2 at {}", fallback_dir));
  }
  if (mounted) *mounted = true;
  return fallback_dir;
}

Status createCgroup(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return makeError(Code::kInternal, "create cgroup {}: {}", dir, ec.message());
  if (!fs::exists(dir + "/cgroup.procs")) {
    return makeError(Code::kFailedPrecondition, "{} is not a cgroup (no cgroup.procs)", dir);
  }
  return Status::ok();
}

Status joinCgroup(const std::string& dir, pid_t pid) {
  const std::string path = dir + "/cgroup.procs";
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errnoStatus(errno, fmt::format("open {}", path));
  const std::string text = std::to_string(pid);
  if (write(fd.get(), text.data(), text.size()) < 0) {
    return errnoStatus(errno, fmt::format("move pid {} into cgroup {}", pid, dir));
  }
  return Status::ok();
}

std::vector<pid_t> cgroupPids(const std::string& dir) {
  std::vector<pid_t> out;
  auto add = [&](const fs::path& cg) {
    std::istringstream list(readAll((cg / "cgroup.procs").string()));
    for (pid_t pid; list >> pid;) out.push_back(pid);
  };
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  add(dir);
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_directory(ec)) add(e.path());
  }
  return out;
}

Status removeCgroupTree(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::ok();
  std::vector<std::string> dirs = {dir};
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_directory(ec)) dirs.push_back(e.path().string());
  }
  // Deepest first: a cgroup with children cannot be removed.
  std::sort(dirs.begin(), dirs.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& d : dirs) {
    int err = 0;
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (rmdir(d.c_str()) == 0 || errno == ENOENT) {
        err = 0;
        break;
      }
      err = errno;
      if (err != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (err != 0) return errnoStatus(err, fmt::format("remove cgroup {}", d));
  }
  return Status::ok();
}

}  // namespace petrel::sandbox
