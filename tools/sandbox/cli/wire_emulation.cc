// Wire emulation for the XDP fast path; see wire_emulation.h.
#include "tools/sandbox/cli/wire_emulation.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <thread>

#include "common/unique_fd.h"
#include "tools/sandbox/common/process.h"

namespace petrel::sandbox {

Status attachXdpPass(const std::string& netns, const std::string& device) {
  const bpf_insn pass[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},  // r0 = XDP_PASS
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},                          // return r0
  };
  UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_XDP, "sandbox_pass", "GPL", pass, 2, nullptr));
  if (!prog) return errnoStatus(errno, "load the XDP pass program for " + device);
  // setns changes only the calling thread's namespace: attach from a thread of its own.
  Status result = Status::ok();
  std::thread worker([&] {
    UniqueFd ns(open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns || setns(ns.get(), CLONE_NEWNET) != 0) {
      result = errnoStatus(errno, "enter network namespace " + netns);
      return;
    }
    const int ifindex = static_cast<int>(if_nametoindex(device.c_str()));
    if (ifindex == 0) {
      result = errnoStatus(errno, "find " + device + " in " + netns);
    } else if (bpf_xdp_attach(ifindex, prog.get(), XDP_FLAGS_DRV_MODE, nullptr) != 0) {
      result = errnoStatus(errno, "attach the XDP pass program to " + device + " in " + netns);
    }
  });
  worker.join();
  return result;
}

Status completeChecksumsOn(const std::string& netns, const std::string& device) {
  std::vector<std::string> argv;
  if (!netns.empty()) argv = {"ip", "netns", "exec", netns};
  for (const char* a : {"ethtool", "-K", device.c_str(), "tx", "off"}) argv.emplace_back(a);
  return runChecked(argv);
}

}  // namespace petrel::sandbox
