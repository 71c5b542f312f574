// Backoff: exponential delays with full jitter (random in [0, min(cap, base * 2^n)]), reset on
// success, so many agents reconnecting to a restarted apiserver do not arrive in lockstep.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace petrel::k8s {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap)
      : base_(base), cap_(cap), rng_(std::random_device{}()) {}

  std::chrono::milliseconds next() {
    auto ceiling = std::min<int64_t>(cap_.count(), base_.count() << std::min(attempt_, 20));
    ++attempt_;
    std::uniform_int_distribution<int64_t> dist(ceiling / 2, ceiling);  // keep a floor of half
    return std::chrono::milliseconds(dist(rng_));
  }
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace petrel::k8s
