// fork/exec with pipes, deadlines, network namespaces and log files.
#include "tools/sandbox/common/process.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/unique_fd.h"

extern char** environ;

namespace petrel::sandbox {

namespace {

// argv/envp arrays built before fork: the child may only make async-signal-safe calls.
struct ExecArgs {
  std::string program;  // argv[0] resolved on the PATH of the child's environment
  std::vector<char*> argv;
  std::vector<char*> envp;
  explicit ExecArgs(const ProcessSpec& spec) : program(resolve(spec)) {
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  char** env(const ProcessSpec& spec) { return spec.env.empty() ? environ : envp.data(); }

  // execvpe would search our own PATH, not the one the child is given.
  static std::string resolve(const ProcessSpec& spec) {
    const std::string& name = spec.argv.front();
    if (name.find('/') != std::string::npos) return name;
    const char* ours = getenv("PATH");
    std::string path = ours ? ours : "/usr/bin:/bin";
    for (const auto& e : spec.env) {
      if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
    }
    std::istringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
      struct stat st {};
      if (access(candidate.c_str(), X_OK) == 0 && stat(candidate.c_str(), &st) == 0 &&
          !S_ISDIR(st.st_mode)) {
        return candidate;
      }
    }
    // Not on PATH: execve("") fails with ENOENT and the child reports it (execve(name) would run
    // a file of that name in the working directory, which execvp never does).
    return {};
  }
};

// In the child: join the cgroup (writing "0" to an open cgroup.procs moves the writer), enter the
// namespaces, set up the mounts, enter the directory, then exec; exits 127 on failure after
// writing why to `err_fd`. The child is in its cgroup before it runs anything of its own, and
// before the parent learns that exec succeeded. Only system calls here (async-signal-safe).
[[noreturn]] void execChild(const ProcessSpec& spec, ExecArgs& args, int netns_fd, int cgroup_fd,
                            int mountns_fd, int err_fd) {
  auto fail = [&](const char* what) {
    const char* msg = strerror(errno);
    (void)!write(err_fd, what, strlen(what));
    (void)!write(err_fd, ": ", 2);
    (void)!write(err_fd, msg, strlen(msg));
    (void)!write(err_fd, "\n", 1);
    _exit(127);
  };
  if (cgroup_fd >= 0 && write(cgroup_fd, "0", 1) != 1) fail("join cgroup");
  if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) fail("setns");
  if (mountns_fd >= 0) {
    if (setns(mountns_fd, CLONE_NEWNS) != 0) fail("setns mount namespace");
    if (chdir("/") != 0) fail("chdir /");
  }
  if (!spec.mounts.empty()) {
    if (unshare(CLONE_NEWNS) != 0) fail("unshare mount namespace");
    // Slave all the way down: the container's mounts never appear on the host, and the host's
    // later mounts under its shared mounts reach the container (a pod's network namespace under
    // /run/netns, made after the agent started; mountPropagation HostToContainer).
    if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) fail("make / rslave");
    for (const auto& m : spec.mounts) {
      int bound = mount(m.source.c_str(), m.target.c_str(), nullptr, MS_BIND | MS_REC, nullptr);
      if (bound != 0 && errno == ENOENT) {
        // The mount point lies under an earlier mount of this list (/run/petrel/cgroupv2 under
        // /run/petrel): make it there, in that mount's source, and try again.
        struct stat source {};
        if (stat(m.source.c_str(), &source) != 0) fail(m.source.c_str());
        const int made = S_ISDIR(source.st_mode)
                             ? mkdir(m.target.c_str(), 0755)
                             : open(m.target.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (made < 0 && errno != EEXIST) fail(m.target.c_str());
        if (!S_ISDIR(source.st_mode) && made >= 0) close(made);
        bound = mount(m.source.c_str(), m.target.c_str(), nullptr, MS_BIND | MS_REC, nullptr);
      }
      if (bound != 0) fail(m.target.c_str());
      if (m.read_only && mount(nullptr, m.target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY,
                               nullptr) != 0) {
        fail(m.target.c_str());
      }
    }
  }
  if (!spec.working_dir.empty() && chdir(spec.working_dir.c_str()) != 0) fail("chdir");
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  char** envp = args.env(spec);
  execve(args.program.c_str(), args.argv.data(), envp);
  fail(spec.argv[0].c_str());
  _exit(127);
}

Result<UniqueFd> openNetns(const ProcessSpec& spec) {
  if (spec.netns_path.empty()) return UniqueFd();
  UniqueFd fd(open(spec.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errnoStatus(errno, fmt::format("open network namespace {}", spec.netns_path));
  // setns() in the child would fail on any other file with only "Invalid argument".
  if (ioctl(fd.get(), NS_GET_NSTYPE) != CLONE_NEWNET) {
    return makeError(Code::kInvalidArgument, "{}: not a network namespace", spec.netns_path);
  }
  return fd;
}

Result<UniqueFd> openMountns(const ProcessSpec& spec) {
  if (spec.mountns_path.empty()) return UniqueFd();
  UniqueFd fd(open(spec.mountns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errnoStatus(errno, fmt::format("open mount namespace {}", spec.mountns_path));
  return fd;
}

// The mount points of spec.mounts, made on the host before fork where missing: an empty
// directory (or an empty file when the source is a file). They stay on the host afterwards.
Status prepareMountPoints(const ProcessSpec& spec) {
  namespace fs = std::filesystem;
  for (const auto& m : spec.mounts) {
    std::error_code ec;
    if (!fs::exists(m.source, ec)) {
      return makeError(Code::kFailedPrecondition, "mount source {} does not exist", m.source);
    }
    if (fs::exists(m.target, ec)) continue;
    if (fs::is_directory(m.source, ec)) {
      fs::create_directories(m.target, ec);
    } else {
      fs::create_directories(fs::path(m.target).parent_path(), ec);
      if (!ec) std::ofstream(m.target).flush();
    }
    if (ec || !fs::exists(m.target)) {
      return makeError(Code::kFailedPrecondition, "cannot create mount point {}: {}", m.target,
                       ec ? ec.message() : "failed");
    }
  }
  return Status::ok();
}

// cgroup.procs of spec.cgroup_dir, opened before fork so the child only has to write to it.
Result<UniqueFd> openCgroupProcs(const ProcessSpec& spec) {
  if (spec.cgroup_dir.empty()) return UniqueFd();
  const std::string path = spec.cgroup_dir + "/cgroup.procs";
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errnoStatus(errno, fmt::format("open cgroup {}", path));
  return fd;
}

// write() to a pipe whose reader has exited fails with EPIPE and raises SIGPIPE, which would end
// the whole program: block it on this thread for the call and take back the one the call raised.
ssize_t writeNoSigpipe(int fd, const char* data, size_t size) {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  sigset_t pending;
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  ssize_t n = write(fd, data, size);
  const int saved = errno;
  if (n < 0 && saved == EPIPE && !was_pending) {
    timespec zero{};
    while (sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return n;
}

int decodeWait(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Result<ProcessResult> runProcess(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Status(Code::kInvalidArgument, "runProcess: empty argv");
  auto netns = openNetns(spec);
  if (!netns) return netns.status();
  auto cgroup = openCgroupProcs(spec);
  if (!cgroup) return cgroup.status();
  auto mountns = openMountns(spec);
  if (!mountns) return mountns.status();
  PETREL_RETURN_IF_ERROR(prepareMountPoints(spec));
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return errnoStatus(errno, "pipe");
  if (pipe2(out, O_CLOEXEC) != 0) return errnoStatus(errno, "pipe");
  if (pipe2(err, O_CLOEXEC) != 0) return errnoStatus(errno, "pipe");
  ExecArgs args(spec);
  pid_t pid = fork();
  if (pid < 0) return errnoStatus(errno, "fork");
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execChild(spec, args, netns->get(), cgroup->get(), mountns->get(), 2);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  UniqueFd in_w(in[1]), out_r(out[0]), err_r(err[0]);
  fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  ProcessResult result;
  size_t written = 0;
  if (spec.input.empty()) in_w.reset();
  const auto deadline = std::chrono::steady_clock::now() + spec.timeout;
  char buf[16384];
  // Input is fed even when the child has closed its output; a child that never reads it ends
  // with EPIPE (or the deadline).
  while (out_r || err_r || in_w) {
    // Rounded up: truncating would call a deadline less than a millisecond away reached.
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd fds[3] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}, {in_w.get(), POLLOUT, 0}};
    if (poll(fds, 3, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EAGAIN) {
        (i == 0 ? out_r : err_r).reset();
      }
    }
    if (in_w && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n =
          writeNoSigpipe(in_w.get(), spec.input.data() + written, spec.input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == spec.input.size()) in_w.reset();
    }
  }
  // A child with its output closed may still run: the deadline holds for the wait too.
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, result.timed_out ? 0 : WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) break;
    if (w != 0) continue;
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      kill(pid, SIGKILL);
    } else {
      usleep(2000);
    }
  }
  result.exit_code = decodeWait(status);
  return result;
}

Status runChecked(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  ProcessSpec spec;
  spec.argv = argv;
  spec.timeout = timeout;
  auto r = runProcess(spec);
  if (!r) return r.status();
  if (r->ok()) return Status::ok();
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  std::string why = r->err.empty() ? r->out : r->err;
  while (!why.empty() && why.back() == '\n') why.pop_back();
  return makeError(Code::kInternal, "`{}` {}: {}", cmd,
                   r->timed_out ? "timed out" : fmt::format("exited {}", r->exit_code), why);
}

Result<pid_t> startProcess(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Status(Code::kInvalidArgument, "startProcess: empty argv");
  auto netns = openNetns(spec);
  if (!netns) return netns.status();
  auto cgroup = openCgroupProcs(spec);
  if (!cgroup) return cgroup.status();
  auto mountns = openMountns(spec);
  if (!mountns) return mountns.status();
  PETREL_RETURN_IF_ERROR(prepareMountPoints(spec));
  UniqueFd log(open(spec.log_path.empty() ? "/dev/null" : spec.log_path.c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log) return errnoStatus(errno, fmt::format("open log file {}", spec.log_path));
  UniqueFd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
  // The exec error travels back through a close-on-exec pipe: EOF means exec succeeded.
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) return errnoStatus(errno, "pipe");
  ExecArgs args(spec);
  pid_t pid = fork();
  if (pid < 0) return errnoStatus(errno, "fork");
  if (pid == 0) {
    setsid();
    dup2(devnull.get(), 0);
    dup2(log.get(), 1);
    dup2(log.get(), 2);
    execChild(spec, args, netns->get(), cgroup->get(), mountns->get(), status_pipe[1]);
  }
  close(status_pipe[1]);
  UniqueFd status_r(status_pipe[0]);
  std::string why;
  char buf[512];
  for (ssize_t n; (n = read(status_r.get(), buf, sizeof(buf))) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    why.append(buf, static_cast<size_t>(n));
  }
  if (!why.empty()) {
    waitpid(pid, nullptr, 0);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return makeError(Code::kFailedPrecondition, "cannot start {}: {}", spec.argv[0], why);
  }
  return pid;
}

uint64_t processStartTime(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  if (!std::getline(in, stat)) return 0;
  // The command name (field 2) may contain spaces; fields after it follow the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

bool processAlive(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  uint64_t now = processStartTime(pid);
  if (now == 0 || now != start_time) return false;
  // A zombie has exited: it only waits to be reaped.
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  std::getline(in, stat);
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

void signalGroup(pid_t pid, int sig) {
  if (pid <= 0) return;
  kill(-pid, sig);
  kill(pid, sig);
}

uint64_t netnsInode(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

std::string selfDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

}  // namespace petrel::sandbox
