// The bounded hand-off between the callers of on_audit_event and the writer thread. Producers
// block while it is full (back-pressure: nothing is ever dropped); the writer takes everything
// queued at once, after waiting a bounded delay for a batch to fill (group commit).
#pragma once

#include "event_batch.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace th::audit {

class EventQueue {
public:
  using Clock = std::chrono::steady_clock;

  explicit EventQueue(size_t capacity) : capacity_(capacity) {}

  // Copies the event in; blocks while the queue is full. Returns false (keeping nothing) once closed.
  bool push(const EventView &event, uint64_t sequence = 0);

  // Waits until an event is queued, the queue is closed, or `wake_by` passes (never for
  // time_point::max()). With events queued,
  // waits further until `batch_max` are queued or `delay` has passed since the oldest arrived.
  // Swaps everything queued into `out` (cleared first). Returns false when closed and drained.
  bool take(EventBatch &out, size_t batch_max, Clock::duration delay, Clock::time_point wake_by);

  // Wakes everyone; later pushes fail; take() still drains what is queued.
  void close();

  // Waits up to `duration` or until close(); true when closed (the writer's pause between retries).
  bool wait_closed(Clock::duration duration);

private:
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_, closed_cv_;
  EventBatch queued_;
  Clock::time_point oldest_;
  size_t capacity_;
  size_t batch_wanted_ = 1; // the writer's batch_max while it waits for a batch to fill
  bool closed_ = false;
};

} // namespace th::audit
