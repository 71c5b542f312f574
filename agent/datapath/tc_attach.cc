// tc attach/detach through libbpf's bpf_tc_* API (libbpf 1.1 has no tcx).
#include "agent/datapath/tc_attach.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <string>

namespace petrel::datapath {

namespace {
constexpr uint32_t kHandle = 1;
constexpr uint32_t kPriority = 1;

bpf_tc_attach_point toPoint(TcDirection d) {
  return d == TcDirection::kIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}
}  // namespace

Status attachTc(uint32_t ifindex, int prog_fd, TcDirection direction) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex),
              .attach_point = toPoint(direction));
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST)
    return errnoStatus(-err, "create clsact on ifindex " + std::to_string(ifindex));
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE, .handle = kHandle,
              .priority = kPriority);
  err = bpf_tc_attach(&hook, &opts);
  if (err) return errnoStatus(-err, "attach tc program to ifindex " + std::to_string(ifindex));
  return Status::ok();
}

Status detachTc(uint32_t ifindex, TcDirection direction) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex),
              .attach_point = toPoint(direction));
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kHandle, .priority = kPriority);
  int err = bpf_tc_detach(&hook, &opts);
  if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL) {
    return errnoStatus(-err, "detach tc program from ifindex " + std::to_string(ifindex));
  }
  return Status::ok();
}

}  // namespace petrel::datapath
