// Pod namespaces, CNI, container processes, readiness probes and on-disk records.
#include "tools/sandbox/kubelet/pod_runtime.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/unique_fd.h"
#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string nowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool tcpConnects(const std::string& ip, uint16_t port, int timeout_seconds) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) return false;
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{fd.get(), POLLOUT, 0};
  if (poll(&p, 1, timeout_seconds * 1000) != 1) return false;
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0;
}

size_t discard(char*, size_t size, size_t n, void*) {
  return size * n;
}

bool httpOk(const std::string& ip, uint16_t port, const std::string& path, int timeout_seconds) {
  CURL* c = curl_easy_init();
  if (!c) return false;
  std::string url = fmt::format("http://{}:{}{}", ip, port, path);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(timeout_seconds));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  long code = 0;
  bool ok = curl_easy_perform(c) == CURLE_OK &&
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code >= 200 &&
            code < 400;
  curl_easy_cleanup(c);
  return ok;
}

json runsToJson(const std::vector<ContainerRun>& runs) {
  json out = json::array();
  for (const auto& c : runs) {
    out.push_back({{"name", c.name},
                   {"pid", c.pid},
                   {"startTime", c.start_time},
                   {"startedAt", c.started_at},
                   {"restarts", c.restarts},
                   {"lastExit", c.last_exit},
                   {"done", c.done}});
  }
  return out;
}

std::vector<ContainerRun> runsFromJson(const json& list) {
  std::vector<ContainerRun> out;
  for (const auto& c : list) {
    ContainerRun run;
    run.name = c.value("name", "");
    run.pid = c.value("pid", 0);
    run.start_time = c.value("startTime", uint64_t{0});
    run.started_at = c.value("startedAt", "");
    run.restarts = c.value("restarts", 0);
    run.last_exit = c.value("lastExit", -1);
    run.done = c.value("done", false);
    out.push_back(std::move(run));
  }
  return out;
}

json recordToJson(const PodRecord& r) {
  return {{"uid", r.uid},
          {"namespace", r.namespace_},
          {"name", r.name},
          {"netns", r.netns},
          {"hostNetwork", r.host_network},
          {"cniResult", r.cni_result},
          {"ips", r.ips},
          {"startedAt", r.started_at},
          {"initContainers", runsToJson(r.init_containers)},
          {"initialized", r.initialized},
          {"containers", runsToJson(r.containers)}};
}

// Every container run of the pod, init containers first.
std::vector<ContainerRun*> allRuns(PodRecord& r) {
  std::vector<ContainerRun*> out;
  for (auto& c : r.init_containers) out.push_back(&c);
  for (auto& c : r.containers) out.push_back(&c);
  return out;
}

void backOff(ContainerRun& c, SteadyTime now) {
  c.next_start = now + std::chrono::seconds(c.backoff_seconds);
  c.backoff_seconds = std::min(c.backoff_seconds * 2, 30);
}

std::unique_ptr<PodRecord> recordFromJson(const json& j) {
  auto r = std::make_unique<PodRecord>();
  r->uid = j.value("uid", "");
  r->namespace_ = j.value("namespace", "");
  r->name = j.value("name", "");
  r->netns = j.value("netns", "");
  r->host_network = j.value("hostNetwork", false);
  r->cni_result = j.value("cniResult", json());
  r->ips = j.value("ips", std::vector<std::string>{});
  r->started_at = j.value("startedAt", "");
  r->init_containers = runsFromJson(j.value("initContainers", json::array()));
  r->initialized = j.value("initialized", true);
  r->containers = runsFromJson(j.value("containers", json::array()));
  return r;
}

}  // namespace

std::string PodRecord::phase(const std::string& restart_policy) const {
  if (!initialized) {
    for (const auto& c : init_containers) {
      if (c.done && c.last_exit != 0) return "Failed";
    }
    return "Pending";
  }
  bool all_done = !containers.empty();
  bool all_zero = true;
  for (const auto& c : containers) {
    if (!c.done) all_done = false;
    if (c.last_exit != 0) all_zero = false;
  }
  if (!all_done) return "Running";
  if (restart_policy == "Always") return "Running";
  return all_zero ? "Succeeded" : "Failed";
}

std::string podNetnsName(const std::string& prefix, const std::string& ns,
                         const std::string& name) {
  std::string full = prefix + ns + "-" + name;
  return full.size() > 200 ? full.substr(0, 200) : full;
}

PodRuntime::PodRuntime(RuntimeOptions options)
    : options_(std::move(options)),
      cni_(options_.cni_conf_dir, options_.cni_bin_dir, options_.host_paths.binds()) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

std::string PodRuntime::podDir(const std::string& ns, const std::string& name,
                               const std::string& uid) const {
  return fmt::format("{}/pods/{}_{}_{}", options_.state_dir, ns, name, uid);
}

std::string PodRuntime::podDir(const PodRecord& r) const {
  return podDir(r.namespace_, r.name, r.uid);
}

std::string PodRuntime::containerPath() const {
  return "PATH=" + options_.bin_dir +
         ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

std::string PodRuntime::logPath(const PodRecord& r, const std::string& container) const {
  return podDir(r) + "/" + container + ".log";
}

void PodRuntime::save(const PodRecord& r) const {
  std::error_code ec;
  fs::create_directories(podDir(r), ec);
  const std::string path = podDir(r) + "/record.json";
  {
    std::ofstream out(path + ".tmp");
    out << recordToJson(r).dump(2) << "\n";
  }
  fs::rename(path + ".tmp", path, ec);
  if (ec) spdlog::warn("cannot save record of pod {}: {}", r.key(), ec.message());
}

void PodRuntime::loadRecords() {
  std::error_code ec;
  for (const auto& dir : fs::directory_iterator(options_.state_dir + "/pods", ec)) {
    std::ifstream in(dir.path() / "record.json");
    std::stringstream text;
    text << in.rdbuf();
    json j = json::parse(text.str(), nullptr, false);
    if (!j.is_object() || j.value("uid", "").empty()) {
      spdlog::warn("ignoring unreadable pod record {}", (dir.path() / "record.json").string());
      continue;
    }
    auto record = recordFromJson(j);
    for (ContainerRun* c : allRuns(*record)) {
      if (c->pid && !processAlive(c->pid, c->start_time)) c->pid = 0;  // restarted by supervise()
    }
    spdlog::info("adopted pod {} (uid {}) from a previous run", record->key(), record->uid);
    records_[record->uid] = std::move(record);
  }
}

std::vector<PodRecord*> PodRuntime::records() {
  std::vector<PodRecord*> out;
  for (auto& [uid, r] : records_) out.push_back(r.get());
  return out;
}

PodRecord* PodRuntime::find(const std::string& uid) {
  auto it = records_.find(uid);
  return it == records_.end() ? nullptr : it->second.get();
}

CniAttachment PodRuntime::attachment(const PodRecord& r) const {
  CniAttachment a;
  a.container_id = r.uid;
  a.netns_path = "/run/netns/" + r.netns;
  a.pod_namespace = r.namespace_;
  a.pod_name = r.name;
  a.pod_uid = r.uid;
  return a;
}

Result<PodRecord*> PodRuntime::start(const PodSpec& pod, const LaunchResolver& resolve) {
  auto record = std::make_unique<PodRecord>();
  record->uid = pod.uid;
  record->namespace_ = pod.namespace_;
  record->name = pod.name;
  record->host_network = pod.host_network;
  record->started_at = nowRfc3339();
  for (const auto* specs : {&pod.init_containers, &pod.containers}) {
    auto& runs = specs == &pod.containers ? record->containers : record->init_containers;
    for (const auto& c : *specs) {
      ContainerRun run;
      run.name = c.name;
      runs.push_back(std::move(run));
    }
  }
  record->initialized = pod.init_containers.empty();
  if (pod.host_network) {
    record->ips = {options_.node_ip};
  } else {
    record->netns = podNetnsName(options_.netns_prefix, pod.namespace_, pod.name);
    if (fs::exists("/run/netns/" + record->netns)) record->netns += "-" + pod.uid.substr(0, 5);
    if (Status s = runChecked({"ip", "netns", "add", record->netns}); !s) return s;
    (void)runChecked({"ip", "-n", record->netns, "link", "set", "lo", "up"});
    save(*record);  // from here on `down` and a restarted kubelet can find the namespace
    auto result = cni_.add(attachment(*record));
    if (!result) {
      (void)runChecked({"ip", "netns", "del", record->netns});
      fs::remove_all(podDir(*record));
      return makeError(result.status().code(), "pod {}: network setup failed: {}", pod.key(),
                       result.status().message());
    }
    record->cni_result = *result;
    record->ips = cniResultIps(*result);
    if (record->ips.empty()) {
      (void)cni_.del(attachment(*record), record->cni_result);
      (void)runChecked({"ip", "netns", "del", record->netns});
      fs::remove_all(podDir(*record));
      return makeError(Code::kInternal, "pod {}: CNI result has no IPv4 address", pod.key());
    }
  }
  PodRecord* r = record.get();
  records_[pod.uid] = std::move(record);
  // The first init container, or every container: all resolved before any starts, so a pod
  // whose env or mounts cannot be made yet does not start half.
  const bool init = !pod.init_containers.empty();
  const std::vector<ContainerSpec>& first = init ? pod.init_containers : pod.containers;
  const size_t count = init ? 1 : first.size();
  std::vector<ContainerLaunch> launches;
  for (size_t i = 0; i < count; ++i) {
    auto launch = resolve(*r, first[i]);
    if (!launch) {
      (void)teardown(pod.uid);
      return makeError(launch.status().code(), "pod {}: container {}: {}", pod.key(), first[i].name,
                       launch.status().message());
    }
    launches.push_back(std::move(*launch));
  }
  auto& runs = init ? r->init_containers : r->containers;
  for (size_t i = 0; i < count; ++i) {
    if (Status s = startContainer(*r, pod, first[i], runs[i], launches[i]); !s) {
      spdlog::warn("pod {}: {}", pod.key(), s.message());
      runs[i].next_start = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
  }
  save(*r);
  return r;
}

Status PodRuntime::restartContainer(PodRecord& r, const PodSpec& pod, const ContainerSpec& spec,
                                    ContainerRun& run, const LaunchResolver& resolve) {
  auto launch = resolve(r, spec);
  if (!launch) {
    return makeError(launch.status().code(), "container {}: {}", spec.name,
                     launch.status().message());
  }
  return startContainer(r, pod, spec, run, *launch);
}

Status PodRuntime::startContainer(PodRecord& r, const PodSpec& pod, const ContainerSpec& spec,
                                  ContainerRun& run, const ContainerLaunch& launch) {
  ProcessSpec p;
  p.argv = launch.argv;
  p.mounts = launch.mounts;
  p.env = {containerPath(),
           "HOSTNAME=" + pod.name,
           "POD_NAME=" + pod.name,
           "POD_NAMESPACE=" + pod.namespace_,
           "POD_UID=" + pod.uid,
           "POD_IP=" + (r.ips.empty() ? std::string() : r.ips.front()),
           "NODE_NAME=" + options_.node_name,
           "HOME=/tmp"};
  // The container's variables replace the runtime's of the same name.
  for (const auto& kv : launch.env) {
    const std::string name = kv.substr(0, kv.find('=') + 1);
    std::erase_if(p.env, [&](const std::string& e) { return e.rfind(name, 0) == 0; });
    p.env.push_back(kv);
  }
  if (!r.host_network) p.netns_path = "/run/netns/" + r.netns;
  p.cgroup_dir = options_.cgroup_dir;
  p.working_dir = spec.working_dir;
  std::error_code ec;
  fs::create_directories(podDir(r), ec);
  p.log_path = logPath(r, spec.name);
  auto pid = startProcess(p);
  if (!pid) {
    run.pid = 0;
    run.last_exit = 127;
    return makeError(Code::kFailedPrecondition, "container {}: {}", spec.name,
                     pid.status().message());
  }
  run.pid = *pid;
  run.start_time = processStartTime(*pid);
  run.started_at = nowRfc3339();
  run.ready = false;
  run.probe_successes = run.probe_failures = 0;
  const int delay = spec.readiness ? spec.readiness->initial_delay_seconds : 0;
  run.next_probe = std::chrono::steady_clock::now() + std::chrono::seconds(delay);
  spdlog::info("pod {}: started container {} (pid {})", r.key(), spec.name, *pid);
  return Status::ok();
}

// True when the container's process has gone; records its exit code when it was our child.
bool PodRuntime::reap(ContainerRun& c) {
  if (c.pid == 0) return false;
  int status = 0;
  pid_t got = waitpid(c.pid, &status, WNOHANG);
  if (got == c.pid) {
    c.last_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else if (got < 0 && errno == ECHILD) {
    if (processAlive(c.pid, c.start_time)) return false;  // adopted, still running
    c.last_exit = 0;                                      // not our child: the exit code is lost
  } else {
    return false;
  }
  c.pid = 0;
  c.ready = false;
  return true;
}

bool PodRuntime::probe(const PodRecord& r, const ContainerRun& run, const ContainerSpec& spec) {
  const Probe& p = *spec.readiness;
  const std::string ip = r.host_network || r.ips.empty() ? "127.0.0.1" : r.ips.front();
  switch (p.kind) {
    case Probe::Kind::kTcpSocket:
      return tcpConnects(ip, p.port, p.timeout_seconds);
    case Probe::Kind::kHttpGet:
      return httpOk(ip, p.port, p.path, p.timeout_seconds);
    case Probe::Kind::kExec: {
      ProcessSpec ps;
      ps.argv = p.command;
      ps.env = {containerPath()};  // the image's commands, as in the container
      if (!r.host_network) ps.netns_path = "/run/netns/" + r.netns;
      // The container's own view of the files (its volumes), entered through its process.
      ps.mountns_path = fmt::format("/proc/{}/ns/mnt", run.pid);
      ps.cgroup_dir = options_.cgroup_dir;
      ps.timeout = std::chrono::seconds(p.timeout_seconds);
      auto res = runProcess(ps);
      return res && res->ok();
    }
  }
  return false;
}

// Init containers run one at a time; each must exit 0 before the next starts. A failed one is
// restarted unless restartPolicy is Never (then the pod fails). After the last, the app
// containers start.
bool PodRuntime::superviseInit(PodRecord& r, const PodSpec& pod, const LaunchResolver& resolve) {
  bool changed = false;
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < r.init_containers.size() && i < pod.init_containers.size(); ++i) {
    ContainerRun& c = r.init_containers[i];
    if (c.done && c.last_exit == 0) continue;
    if (c.done) return changed;  // failed for good: the pod has failed
    if (reap(c)) {
      changed = true;
      spdlog::info("pod {}: init container {} exited with {}", r.key(), c.name, c.last_exit);
      if (c.last_exit == 0 || pod.restart_policy == "Never") {
        c.done = true;
        if (c.last_exit != 0) return changed;
        continue;
      }
      backOff(c, now);
    }
    if (c.pid == 0 && !r.stopping && now >= c.next_start) {
      if (c.start_time != 0 || c.last_exit >= 0) ++c.restarts;
      if (Status s = restartContainer(r, pod, pod.init_containers[i], c, resolve); !s) {
        spdlog::warn("pod {}: {}", r.key(), s.message());
        backOff(c, now);
      }
      changed = true;
    }
    return changed;  // this one still runs (or waits to)
  }
  r.initialized = true;
  spdlog::info("pod {}: init containers done", r.key());
  for (size_t i = 0; i < r.containers.size() && i < pod.containers.size(); ++i) {
    if (Status s = restartContainer(r, pod, pod.containers[i], r.containers[i], resolve); !s) {
      spdlog::warn("pod {}: {}", r.key(), s.message());
      backOff(r.containers[i], now);
    }
  }
  return true;
}

bool PodRuntime::supervise(PodRecord& r, const PodSpec& pod, const LaunchResolver& resolve) {
  if (!r.initialized) {
    const bool changed = superviseInit(r, pod, resolve);
    if (changed) save(r);
    return changed;
  }
  bool changed = false;
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < r.containers.size() && i < pod.containers.size(); ++i) {
    ContainerRun& c = r.containers[i];
    const ContainerSpec& spec = pod.containers[i];
    if (reap(c)) {
      changed = true;
      spdlog::info("pod {}: container {} exited with {}", r.key(), c.name, c.last_exit);
      const bool restart = !r.stopping && (pod.restart_policy == "Always" ||
                                           (pod.restart_policy == "OnFailure" && c.last_exit != 0));
      if (!restart) {
        c.done = true;
      } else {
        backOff(c, now);
      }
    }
    if (c.pid == 0 && !c.done && !r.stopping && now >= c.next_start) {
      if (c.start_time != 0 || c.last_exit >= 0) ++c.restarts;
      if (Status s = restartContainer(r, pod, spec, c, resolve); !s) {
        spdlog::warn("pod {}: {}", r.key(), s.message());
        backOff(c, now);
      }
      changed = true;
    }
    if (c.pid == 0) continue;
    if (!spec.readiness) {
      if (!c.ready) changed = true;
      c.ready = true;
      continue;
    }
    if (now < c.next_probe) continue;
    c.next_probe = now + std::chrono::seconds(spec.readiness->period_seconds);
    if (probe(r, c, spec)) {
      c.probe_failures = 0;
      if (++c.probe_successes >= spec.readiness->success_threshold && !c.ready) {
        c.ready = true;
        changed = true;
      }
    } else {
      c.probe_successes = 0;
      if (++c.probe_failures >= spec.readiness->failure_threshold && c.ready) {
        c.ready = false;
        changed = true;
      }
    }
  }
  if (changed) save(r);
  return changed;
}

void PodRuntime::beginStop(PodRecord& r, const PodSpec& pod, int64_t grace_seconds) {
  if (r.stopping) return;
  r.stopping = true;
  const auto now = std::chrono::steady_clock::now();
  r.stop_deadline = now + std::chrono::seconds(grace_seconds);
  for (ContainerRun* c : allRuns(r)) {
    if (!c->pid) continue;
    int sleep_seconds = 0;
    for (const auto& spec : pod.containers) {
      if (spec.name == c->name) sleep_seconds = spec.pre_stop_sleep_seconds;
    }
    if (sleep_seconds > 0) {
      c->term_at = std::min(now + std::chrono::seconds(sleep_seconds), r.stop_deadline);
    } else {
      signalGroup(c->pid, SIGTERM);
    }
  }
  spdlog::info("pod {}: stopping (grace {}s)", r.key(), grace_seconds);
}

bool PodRuntime::stopped(PodRecord& r) {
  bool all = true;
  const bool late = std::chrono::steady_clock::now() >= r.stop_deadline;
  for (ContainerRun* run : allRuns(r)) {
    ContainerRun& c = *run;
    reap(c);
    if (c.pid == 0) continue;
    if (c.term_at != SteadyTime{} && std::chrono::steady_clock::now() >= c.term_at) {
      signalGroup(c.pid, SIGTERM);  // its preStop sleep is over
      c.term_at = {};
    }
    if (late) {
      signalGroup(c.pid, SIGKILL);
      waitpid(c.pid, nullptr, 0);
      c.pid = 0;
    } else {
      all = false;
    }
  }
  return all;
}

Status PodRuntime::teardown(const std::string& uid) {
  auto it = records_.find(uid);
  if (it == records_.end()) return Status::ok();
  PodRecord& r = *it->second;
  for (ContainerRun* c : allRuns(r)) {
    if (c->pid && processAlive(c->pid, c->start_time)) {
      signalGroup(c->pid, SIGKILL);
      waitpid(c->pid, nullptr, WNOHANG);
    }
  }
  Status result = Status::ok();
  if (!r.host_network && !r.netns.empty()) {
    // Processes that joined the namespace some other way (ip netns exec) go too.
    ProcessSpec pids;
    pids.argv = {"ip", "netns", "pids", r.netns};
    if (auto out = runProcess(pids); out && out->ok()) {
      std::istringstream list(out->out);
      for (pid_t pid; list >> pid;) kill(pid, SIGKILL);
    }
    if (Status s = cni_.del(attachment(r), r.cni_result); !s) {
      spdlog::warn("pod {}: CNI DEL: {}", r.key(), s.message());
      result = s;
    }
    if (fs::exists("/run/netns/" + r.netns)) {
      if (Status s = runChecked({"ip", "netns", "del", r.netns}); !s && result) result = s;
    }
  }
  std::error_code ec;
  fs::remove_all(podDir(r), ec);
  spdlog::info("pod {}: removed", r.key());
  records_.erase(it);
  return result;
}

}  // namespace petrel::sandbox
