// How the sandbox daemons stop: SIGTERM and SIGINT are blocked in every thread and taken by one
// waiting thread, which runs the daemon's stop callback; SIGPIPE is ignored (a peer that went
// away is an error return, not a death).
#pragma once

#include <signal.h>

#include <functional>
#include <thread>

namespace petrel::sandbox {

class TerminationSignals {
 public:
  // Blocks the signals: construct it before any other thread starts.
  TerminationSignals();
  // Waits for SIGTERM or SIGINT on a thread of its own and calls `on_signal` with it, once.
  void onSignal(std::function<void(int)> on_signal);
  // Joins the waiter; call after the daemon stopped because of the signal.
  ~TerminationSignals();

  TerminationSignals(const TerminationSignals&) = delete;
  TerminationSignals& operator=(const TerminationSignals&) = delete;

 private:
  sigset_t set_{};
  std::thread waiter_;
};

}  // namespace petrel::sandbox
