// SocketDestroyer: iterator runs per namespace.
#include "agent/datapath/socket_destroyer.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <thread>

#include "common/unique_fd.h"
#include "sock_destroy.skel.h"

namespace petrel::datapath {

Result<std::unique_ptr<SocketDestroyer>> SocketDestroyer::load() {
  std::unique_ptr<SocketDestroyer> d(new SocketDestroyer());
  d->skel_ = sock_destroy__open();
  if (!d->skel_) return errnoStatus(errno, "open BPF object sock_destroy");
  if (int err = sock_destroy__load(d->skel_); err) {
    return errnoStatus(-err,
                       "load BPF object sock_destroy (needs Linux 6.5+ for bpf_sock_destroy)");
  }
  return d;
}

SocketDestroyer::~SocketDestroyer() {
  sock_destroy__destroy(skel_);
}

Status SocketDestroyer::runIterators() {
  for (bpf_program* prog : {skel_->progs.petrel_destroy_tcp, skel_->progs.petrel_destroy_udp}) {
    bpf_link* link = bpf_program__attach_iter(prog, nullptr);
    if (!link) return errnoStatus(errno, "attach socket iterator");
    UniqueFd iter(bpf_iter_create(bpf_link__fd(link)));
    bpf_link__destroy(link);
    if (!iter) return errnoStatus(errno, "create socket iterator");
    char buf[256];
    ssize_t n;
    while ((n = read(iter.get(), buf, sizeof(buf))) > 0) {
    }
    if (n < 0) return errnoStatus(errno, "run socket iterator");
  }
  return Status::ok();
}

Result<uint64_t> SocketDestroyer::destroy(Ipv4Addr ip, uint16_t port,
                                          const std::vector<std::string>& netns_paths) {
  std::lock_guard lock(mu_);
  skel_->bss->target_ip4 = ip.toNetwork();
  skel_->bss->target_port = htons(port);
  skel_->bss->destroyed = 0;
  Status first = Status::ok();
  for (const auto& path : netns_paths) {
    Status st = Status::ok();
    if (path.empty()) {
      st = runIterators();
    } else {
      std::thread worker([&] {
        UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns) return;  // the namespace is gone, and its sockets with it
        if (setns(ns.get(), CLONE_NEWNET) != 0) {
          st = errnoStatus(errno, "enter network namespace " + path);
          return;
        }
        st = runIterators();
      });
      worker.join();
    }
    if (!st.isOk() && first.isOk()) first = st;
  }
  if (!first.isOk()) return first;
  return static_cast<uint64_t>(skel_->bss->destroyed);
}

}  // namespace petrel::datapath
