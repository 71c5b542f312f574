// TestNetns: a network namespace of a BPF test's own, entered by the test's thread: loopback up
// and a veth pair up0/up1 (both up), plus the `ip` commands the test adds. Leaving deletes it, so
// what a test sets up never touches the host and a crashed run leaves only a uniquely named
// namespace behind.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/unique_fd.h"

namespace petrel::bpftest {

class TestNetns {
 public:
  TestNetns() = default;
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;
  ~TestNetns() { leave(); }

  // Creates "petrel-bpftest-<tag>-<pid>", runs `ip -n <it> <command>` for each of `commands`
  // after the veth pair, and enters it.
  ::testing::AssertionResult enter(const std::string& tag,
                                   const std::vector<std::string>& commands = {}) {
    name_ = "petrel-bpftest-" + tag + "-" + std::to_string(getpid());
    const std::string n = " && ip -n " + name_ + " ";
    std::string script = "ip netns add " + name_ + n + "link set lo up" + n +
                         "link add up0 type veth peer name up1" + n + "link set up0 up" + n +
                         "link set up1 up";
    for (const auto& c : commands) script += n + c;
    if (std::system(script.c_str()) != 0)
      return ::testing::AssertionFailure() << "setting up the test namespace failed: " << script;
    original_ = UniqueFd(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    UniqueFd ns(open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns || setns(ns.get(), CLONE_NEWNET) != 0)
      return ::testing::AssertionFailure() << "entering " << name_ << ": " << strerror(errno);
    return ::testing::AssertionSuccess();
  }

  // Back to the namespace the thread came from; the test's namespace is deleted.
  void leave() {
    if (original_) setns(original_.get(), CLONE_NEWNET);
    original_ = UniqueFd();
    if (!name_.empty()) std::system(("ip netns del " + name_ + " 2>/dev/null").c_str());
    name_.clear();
  }

 private:
  std::string name_;
  UniqueFd original_;
};

}  // namespace petrel::bpftest
