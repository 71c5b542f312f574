// Loading the lxc skeleton with pinned, reusable maps.
#include "agent/datapath/loader.h"

#include <cstdarg>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "agent/datapath/bpffs.h"
#include "lxc.skel.h"

namespace petrel::datapath {

namespace {
// Routes libbpf's messages into the agent's log. "Exclusivity flag on" is the kernel declining to
// create a clsact qdisc that already exists: expected on every re-attach, so not a warning.
int libbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), format, args);
  std::string line(buf, n > 0 ? std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1) : 0);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (level == LIBBPF_WARN && line.find("Exclusivity flag on") == std::string::npos) {
    spdlog::warn("libbpf: {}", line);
  } else {
    spdlog::debug("libbpf: {}", line);
  }
  return n;
}
}  // namespace

Result<std::unique_ptr<LoadedDatapath>> LoadedDatapath::load(const std::string& pin_root) {
  libbpf_set_print(libbpfPrint);
  PETREL_RETURN_IF_ERROR(ensureBpffs(pin_root));
  std::unique_ptr<LoadedDatapath> dp(new LoadedDatapath());
  dp->pin_root_ = pin_root;
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root.c_str());
  dp->lxc_ = lxc__open_opts(&opts);
  if (!dp->lxc_) return errnoStatus(errno, "open BPF object lxc");
  if (int err = lxc__load(dp->lxc_); err) {
    return errnoStatus(-err, "load BPF object lxc (pinned maps under " + pin_root +
                                 " may have an old layout: remove them with `petrel bpf "
                                 "cleanup` after draining the node)");
  }
  dp->endpoints_ = EndpointMap(bpf_map__fd(dp->lxc_->maps.petrel_endpoints),
                               pin_root + "/" PETREL_MAP_ENDPOINTS);
  spdlog::info("BPF programs loaded, maps pinned under {}", pin_root);
  return dp;
}

LoadedDatapath::~LoadedDatapath() {
  lxc__destroy(lxc_);
}

int LoadedDatapath::lxcProgramFd() const {
  return bpf_program__fd(lxc_->progs.petrel_lxc_from_container);
}

const struct btf* LoadedDatapath::lxcBtf() const {
  return bpf_object__btf(lxc_->obj);
}

int LoadedDatapath::metricsFd() const {
  return bpf_map__fd(lxc_->maps.petrel_metrics);
}

}  // namespace petrel::datapath
