// A token bucket: `burst` tokens, refilled at `rate_per_s`; each request takes one. The clock is
// passed in by the caller so tests can move time without sleeping.
#pragma once

#include <chrono>
#include <mutex>

namespace th::gateway {

class TokenBucket {
public:
  using TimePoint = std::chrono::steady_clock::time_point;

  TokenBucket(double rate_per_s, double burst, TimePoint now);

  // True when a token was taken. Otherwise retry_after_s is how long until one is available
  // (at least 1 s, rounded up: the Retry-After header counts whole seconds).
  bool try_take(TimePoint now, int &retry_after_s);

private:
  std::mutex mutex_;
  double rate_per_s_;
  double burst_;
  double tokens_;
  TimePoint last_;
};

} // namespace th::gateway
