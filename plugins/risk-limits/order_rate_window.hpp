// Approved-order times of one agent within the last second of the host clock: a fixed ring of
// `limit` slots, so the hot path never allocates after the first order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace risk_limits {

class OrderRateWindow {
public:
  static constexpr int64_t kWindowNs = 1'000'000'000;

  explicit OrderRateWindow(std::size_t limit) : times_(limit) {}

  // Orders counted at `now_ns`: those recorded in (now_ns - 1 s, now_ns].
  std::size_t count(int64_t now_ns) {
    while (size_ > 0 && times_[head_] <= now_ns - kWindowNs) {
      head_ = (head_ + 1) % times_.size();
      --size_;
    }
    return size_;
  }

  bool full(int64_t now_ns) { return count(now_ns) >= times_.size(); }

  // Call only when !full(now_ns).
  void record(int64_t now_ns) {
    times_[(head_ + size_) % times_.size()] = now_ns;
    ++size_;
  }

private:
  std::vector<int64_t> times_;
  std::size_t head_ = 0; // oldest entry
  std::size_t size_ = 0;
};

} // namespace risk_limits
