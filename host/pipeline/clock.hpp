// The host clock plugins read through now_ns(): wall-clock time when running live, the replayed
// event's time during a replay (so rate windows and day boundaries follow the data).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace th {

class Clock {
public:
  int64_t now_ns() const {
    int64_t replay = replay_ns_.load(std::memory_order_relaxed);
    if (replay != 0)
      return replay;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // Switches to replay time (0 switches back to the wall clock).
  void set_replay_time(int64_t ns) { replay_ns_.store(ns, std::memory_order_relaxed); }

private:
  std::atomic<int64_t> replay_ns_{0};
};

} // namespace th
