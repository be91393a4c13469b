// One thread running timed actions in time order (equal times in submission order). The venue
// runs all order handling on it, so its book needs no locks and delays are just later times.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace fix_venue {

class Scheduler {
public:
  using Clock = std::chrono::steady_clock;

  Scheduler() : thread_([this] { run(); }) {}
  ~Scheduler() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void after(int delay_ms, std::function<void()> action) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.emplace(std::make_pair(Clock::now() + std::chrono::milliseconds(delay_ms), next_++),
                     std::move(action));
    }
    cv_.notify_all();
  }

private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto first = queue_.begin();
      if (first->first.first > Clock::now()) {
        cv_.wait_until(lock, first->first.first);
        continue;
      }
      std::function<void()> action = std::move(first->second);
      queue_.erase(first);
      lock.unlock();
      action();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::multimap<std::pair<Clock::time_point, uint64_t>, std::function<void()>> queue_;
  uint64_t next_ = 0;
  bool stopping_ = false;
  std::thread thread_; // last: starts after the rest is built
};

} // namespace fix_venue
