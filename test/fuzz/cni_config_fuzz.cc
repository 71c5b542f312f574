// Fuzz entry for what petrel-cni parses from the runtime: the network config (stdin), the
// prevResult inside it and CNI_ARGS. Used by the libFuzzer target (-DPETREL_FUZZ=ON, clang) and
// by the corpus replay test that runs in every unit pass. Traps when an invariant breaks.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cni-plugin/config.h"
#include "cni-plugin/result.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace petrel::cni;

  auto conf = parseNetConf(text);
  if (conf.ok()) {
    check(isSupportedVersion(conf->cni_version));
    check(!conf->name.empty() && !conf->type.empty() && !conf->agent_socket.empty());
    check(!conf->mtu || (*conf->mtu >= kMinMtu && *conf->mtu <= kMaxMtu));
    if (conf->prev_result) {
      auto prev = parsePrevResult(*conf->prev_result);
      check(prev.ok() || prev.error().code == kErrInvalidConfig);
    }
    for (const Attachment& a : conf->valid_attachments) {
      check(hostVethName(a.container_id, a.ifname).size() == 15);
    }
    // Error objects must always serialize, whatever the message holds.
    check(!dumpJson(errorJson({kErrInvalidConfig, conf->name, conf->type}, conf->cni_version))
               .empty());
  } else {
    int code = conf.error().code;
    check(code == kErrInvalidConfig || code == kErrIncompatibleVersion);
    check(!conf.error().msg.empty());
  }

  auto args = parseCniArgs(text);
  check(args.ok() || args.error().code == kErrInvalidEnv);
  return 0;
}
