// The last `capacity` prices of one instrument, oldest first, and their mean.
#pragma once

#include <cstddef>
#include <vector>

namespace momentum {

class PriceWindow {
public:
  explicit PriceWindow(std::size_t capacity) : prices_(capacity) {}

  void push(double price) {
    prices_[next_] = price;
    next_ = (next_ + 1) % prices_.size();
    if (count_ < prices_.size())
      ++count_;
  }

  bool full() const { return count_ == prices_.size(); }
  std::size_t size() const { return count_; }

  // Arithmetic mean, summed oldest to newest every time (no running sum) so the result depends
  // only on the prices in the window, never on how many prices passed through it.
  double mean() const {
    double sum = 0;
    std::size_t start = full() ? next_ : 0;
    for (std::size_t i = 0; i < count_; ++i)
      sum += prices_[(start + i) % prices_.size()];
    return count_ ? sum / static_cast<double>(count_) : 0;
  }

private:
  std::vector<double> prices_;
  std::size_t next_ = 0;  // slot the next price goes to
  std::size_t count_ = 0; // prices held, up to capacity
};

} // namespace momentum
