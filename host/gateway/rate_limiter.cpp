#include "gateway/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace th::gateway {

TokenBucket::TokenBucket(double rate_per_s, double burst, TimePoint now)
    : rate_per_s_(rate_per_s), burst_(std::max(1.0, burst)), tokens_(burst_), last_(now) {}

bool TokenBucket::try_take(TimePoint now, int &retry_after_s) {
  std::lock_guard lock(mutex_);
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_per_s_);
    last_ = now;
  }
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  double wait = rate_per_s_ > 0 ? (1.0 - tokens_) / rate_per_s_ : 3600.0;
  retry_after_s = std::max(1, static_cast<int>(std::ceil(wait)));
  return false;
}

} // namespace th::gateway
