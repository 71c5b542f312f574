// Node status and Lease timestamps.
#include "tools/sandbox/kubelet/node_status.h"

#include <unistd.h>

#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace petrel::sandbox {

using nlohmann::json;

json buildNodeStatus(const std::string& node_ip, const std::string& node_name) {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
  const long long memory_ki = static_cast<long long>(pages) * page_size / 1024;
  const std::string now = nowMicroTime().substr(0, 19) + "Z";  // Time: seconds only
  json resources = {{"cpu", std::to_string(cpus > 0 ? cpus : 1)},
                    {"memory", std::to_string(memory_ki) + "Ki"},
                    {"pods", "110"},
                    {"ephemeral-storage", "10Gi"}};
  return {{"addresses",
           {{{"type", "InternalIP"}, {"address", node_ip}},
            {{"type", "Hostname"}, {"address", node_name}}}},
          {"capacity", resources},
          {"allocatable", resources},
          {"conditions",
           {{{"type", "Ready"},
             {"status", "True"},
             {"reason", "KubeletReady"},
             {"message", "petrel sandbox kubelet is posting ready status"},
             {"lastHeartbeatTime", now},
             {"lastTransitionTime", now}}}},
          {"nodeInfo",
           {{"kubeletVersion", "petrel-sandbox"},
            {"containerRuntimeVersion", "process://petrel-sandbox"},
            {"operatingSystem", "linux"},
            {"architecture", "amd64"}}}};
}

std::string nowMicroTime() {
  const auto now = std::chrono::system_clock::now();
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros % 1000000);
}

}  // namespace petrel::sandbox
