#include "event_queue.hpp"

namespace th::audit {

bool EventQueue::push(const EventView &event, uint64_t sequence) {
  std::unique_lock lock(mutex_);
  not_full_.wait(lock, [&] { return closed_ || queued_.size() < capacity_; });
  if (closed_)
    return false;
  if (queued_.empty())
    oldest_ = Clock::now();
  queued_.add(event, sequence);
  // Wake the writer only when it has something new to decide on.
  size_t n = queued_.size();
  bool wake = n == 1 || n == batch_wanted_ || n == capacity_;
  lock.unlock();
  if (wake)
    not_empty_.notify_one();
  return true;
}

bool EventQueue::take(EventBatch &out, size_t batch_max, Clock::duration delay, Clock::time_point wake_by) {
  out.clear();
  std::unique_lock lock(mutex_);
  batch_wanted_ = std::min(batch_max, capacity_);
  auto ready = [&] { return closed_ || !queued_.empty(); };
  if (wake_by == Clock::time_point::max())
    not_empty_.wait(lock, ready);
  else
    not_empty_.wait_until(lock, wake_by, ready);
  if (queued_.empty())
    return !closed_;
  not_empty_.wait_until(lock, oldest_ + delay, [&] { return closed_ || queued_.size() >= batch_wanted_; });
  bool was_full = queued_.size() >= capacity_;
  out.swap(queued_);
  lock.unlock();
  if (was_full)
    not_full_.notify_all();
  return true;
}

void EventQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
  closed_cv_.notify_all();
}

bool EventQueue::wait_closed(Clock::duration duration) {
  std::unique_lock lock(mutex_);
  closed_cv_.wait_for(lock, duration, [&] { return closed_; });
  return closed_;
}

} // namespace th::audit
