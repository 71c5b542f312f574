// NetnsHandle and NetnsGuard: open, identify and enter network namespaces.
#include "common/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

namespace petrel {

Result<NetnsHandle> NetnsHandle::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return makeError(Code::kNotFound, "netns {} does not exist", path);
    return errnoStatus(err, "open netns " + path);
  }
  NetnsHandle h;
  h.fd_.reset(fd);
  h.path_ = path;
  int type = ::ioctl(fd, NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) {
    return makeError(Code::kInvalidArgument, "{} is not a network namespace", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errnoStatus(errno, "stat netns " + path);
  h.dev_ = st.st_dev;
  h.ino_ = st.st_ino;
  return h;
}

Result<NetnsHandle> NetnsHandle::current() {
  return open("/proc/thread-self/ns/net");
}

Status NetnsHandle::stillAt(const std::string& path) const {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return makeError(Code::kNotFound, "netns {} disappeared: {}", path, std::strerror(errno));
  }
  if (st.st_dev != dev_ || st.st_ino != ino_) {
    return makeError(Code::kNotFound, "netns {} now refers to a different namespace", path);
  }
  return Status::ok();
}

Result<NetnsGuard> NetnsGuard::enter(const NetnsHandle& target) {
  auto original = NetnsHandle::current();
  if (!original.isOk()) return original.status().withContext("remember current netns");
  if (::setns(target.fd(), CLONE_NEWNET) != 0) {
    return errnoStatus(errno, "enter netns " + target.path());
  }
  return NetnsGuard(std::move(original).value());
}

NetnsGuard::~NetnsGuard() {
  if (!original_.valid()) return;
  if (::setns(original_.fd(), CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "petrel: cannot restore the original netns (%s); aborting\n",
                 std::strerror(errno));
    std::abort();
  }
}

}  // namespace petrel
