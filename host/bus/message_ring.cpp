#include "bus/message_ring.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <new>
#include <thread>

namespace th {
namespace {

// A polite busy-wait step: lets the sibling hyper-thread run and saves power.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

} // namespace

size_t string_capacity(const Message &message) {
  size_t total = 0;
  auto add = [&total](const auto &...strings) {
    // std::string's inline buffer holds 15 characters: capacity beyond it is on the heap.
    ((total += strings.capacity() > 15 ? strings.capacity() : 0), ...);
  };
  auto intent = [&](const OrderIntent &o) {
    add(o.corr_id, o.parent_corr_id, o.agent_id, o.order_id, o.instrument, o.strategy, o.extra_json);
  };
  std::visit(
      [&](const auto &p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Signal>)
          add(p.corr_id, p.parent_corr_id, p.instrument, p.source, p.extra_json);
        else if constexpr (std::is_same_v<T, OrderIntent>)
          intent(p);
        else if constexpr (std::is_same_v<T, Rejection>) {
          intent(p.intent);
          add(p.rule, p.reason);
        } else if constexpr (std::is_same_v<T, Fill>)
          add(p.corr_id, p.parent_corr_id, p.fill_id, p.order_id, p.agent_id, p.instrument,
              p.rejection_reason, p.execution_venue, p.extra_json);
        else if constexpr (std::is_same_v<T, Reconcile>)
          add(p.corr_id, p.parent_corr_id, p.reconcile_id, p.agent_id, p.account_id, p.instrument,
              p.extra_json);
        else
          add(p.event_id, p.correlation_id, p.event_type, p.service, p.data_json);
      },
      message.payload);
  add(message.msg_id);
  return total;
}

MessageRing::MessageRing(size_t min_capacity, size_t max_slot_bytes)
    : mask_(std::bit_ceil(std::max<size_t>(min_capacity, 2)) - 1), max_slot_bytes_(max_slot_bytes) {
  // Zero pages, page-aligned (so slot-aligned): a free slot of the first lap each.
  void *pages =
      ::mmap(nullptr, capacity() * sizeof(Slot), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pages == MAP_FAILED)
    throw std::bad_alloc();
  slots_ = static_cast<Slot *>(pages);
  // Message's layout is not its zero bytes, so each is built on first use (slot_message()).
}

MessageRing::~MessageRing() {
  for (uint64_t i = 0; i <= mask_; ++i)
    if (slots_[i].constructed)
      std::destroy_at(&slots_[i].message());
  ::munmap(slots_, capacity() * sizeof(Slot));
}

uint64_t MessageRing::pending() const {
  const uint64_t enqueued = enqueue_position_.load(std::memory_order_relaxed);
  const uint64_t consumed = consumed_.load(std::memory_order_relaxed);
  return enqueued > consumed ? enqueued - consumed : 0;
}

bool MessageRing::try_claim(uint64_t &position) {
  position = enqueue_position_.load(std::memory_order_relaxed);
  for (;;) {
    const auto lag = static_cast<int64_t>(sequence(position, std::memory_order_acquire) - position);
    if (lag == 0) {
      if (enqueue_position_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed))
        return true; // on failure `position` was reloaded
    } else if (lag < 0) {
      return false; // the slot still holds a message one lap behind: full
    } else {
      position = enqueue_position_.load(std::memory_order_relaxed); // another producer won it
    }
  }
}

bool MessageRing::claim(uint64_t &position, Clock::time_point deadline) {
  if (try_claim(position))
    return true;
  // Full: the consumer is usually mid-batch, so spin and yield briefly before sleeping.
  for (int i = 0; i < 32; ++i) {
    cpu_relax();
    if (try_claim(position))
      return true;
  }
  for (int i = 0; i < 8; ++i) {
    std::this_thread::yield();
    if (try_claim(position))
      return true;
  }
  producers_waiting_.fetch_add(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst); // pairs with wake_waiting_producers()
  bool claimed;
  {
    std::unique_lock lock(space_mutex_);
    claimed = space_freed_.wait_until(lock, deadline, [&] { return try_claim(position); });
  }
  producers_waiting_.fetch_sub(1, std::memory_order_relaxed);
  return claimed;
}

void MessageRing::commit(uint64_t position, bool deliver) {
  slot_at(position).deliver = deliver;
  set_sequence(position, position + 1, std::memory_order_release);
}

void MessageRing::wake_consumer() {
  if (consumer_sleeping_.load(std::memory_order_relaxed) &&
      consumer_sleeping_.exchange(false, std::memory_order_acq_rel))
    consumer_sleeping_.notify_one();
}

void MessageRing::wake_waiting_producers() {
  std::atomic_thread_fence(std::memory_order_seq_cst); // slot releases before the waiter count
  if (producers_waiting_.load(std::memory_order_relaxed) == 0)
    return;
  std::lock_guard lock(space_mutex_); // a producer between its check and its wait holds this
  space_freed_.notify_all();
}

bool MessageRing::has_ready() const {
  return sequence(dequeue_position_, std::memory_order_acquire) == dequeue_position_ + 1;
}

void MessageRing::wait_for_work(const std::atomic<bool> &stop) {
  for (int i = 0; i < 256; ++i) {
    if (has_ready() || stop.load(std::memory_order_relaxed))
      return;
    cpu_relax();
  }
  // No sched_yield phase: on a loaded 2-core machine idle consumers yielding to each other cost
  // as much CPU as the threads doing the work, while a futex wake costs microseconds.
  consumer_sleeping_.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst); // pairs with the producers' fence
  if (has_ready() || stop.load(std::memory_order_relaxed)) {
    consumer_sleeping_.store(false, std::memory_order_relaxed);
    return;
  }
  consumer_sleeping_.wait(true, std::memory_order_acquire);
}

} // namespace th
