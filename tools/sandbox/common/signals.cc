// TerminationSignals.
#include "tools/sandbox/common/signals.h"

#include <pthread.h>

namespace petrel::sandbox {

TerminationSignals::TerminationSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void TerminationSignals::onSignal(std::function<void(int)> on_signal) {
  waiter_ = std::thread([this, on_signal = std::move(on_signal)] {
    int sig = 0;
    sigwait(&set_, &sig);
    on_signal(sig);
  });
}

TerminationSignals::~TerminationSignals() {
  if (waiter_.joinable()) waiter_.join();
}

}  // namespace petrel::sandbox
