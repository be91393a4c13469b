// A bounded multi-producer, single-consumer ring of Messages: the queue behind one embedded-bus
// subscription. Each slot carries a sequence number (the classic bounded-ring scheme), so a
// producer claims a slot with one compare-and-swap and the consumer takes lock-free batches.
// Messages are copy-assigned into slots that keep their string capacity, so after warm-up a
// message of the same shape costs no heap allocation; a slot whose strings grew past a bound is
// emptied once its message is handled, so the memory a ring keeps is bounded. Nobody takes a lock per event:
// the consumer sleeps on an atomic (woken only when it actually sleeps) and producers blocked on a full ring
// wait on a condition variable that the consumer signals only when someone waits.
#pragma once

#include "events/events.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>

namespace th {

// Heap bytes the strings of a message hold (their capacities beyond the inline buffer).
size_t string_capacity(const Message &message);

class MessageRing {
public:
  using Clock = std::chrono::steady_clock;

  // Capacity is rounded up to a power of two (at least 2). A handled slot whose strings hold more
  // than max_slot_bytes of capacity is reset (its memory freed).
  explicit MessageRing(size_t min_capacity, size_t max_slot_bytes = 16 * 1024);
  ~MessageRing();
  MessageRing(const MessageRing &) = delete;
  MessageRing &operator=(const MessageRing &) = delete;

  size_t capacity() const { return static_cast<size_t>(mask_ + 1); }
  // Messages claimed but not yet taken by the consumer (approximate while producers run).
  uint64_t pending() const;

  // Positions claimed so far, and consumed so far (every handler up to it has returned; what a
  // handler published is visible to a thread that reads consumed() and then claimed()).
  uint64_t claimed() const { return enqueue_position_.load(std::memory_order_seq_cst); }
  uint64_t consumed() const { return consumed_.load(std::memory_order_acquire); }

  // ---- producers (any thread) ----
  // Claims the next slot, waiting while the ring is full until `deadline`. False on timeout,
  // with nothing claimed. A claimed slot must be committed.
  bool claim(uint64_t &position, Clock::time_point deadline);
  Message &slot_message(uint64_t position) {
    Slot &slot = slot_at(position);
    if (!slot.constructed) { // the claimer owns the slot until commit()
      std::construct_at(&slot.message());
      slot.constructed = true;
    }
    return slot.message();
  }
  // Hands a claimed slot to the consumer; `deliver` false turns it into a hole it skips (used
  // when a fan-out publish times out on another ring and must not deliver anywhere).
  void commit(uint64_t position, bool deliver);
  // Wakes the consumer if it sleeps. Call after commit() and a seq_cst fence.
  void wake_consumer();

  // ---- the consumer (one thread) ----
  // Calls handle(message) for up to `limit` committed messages in order, freeing each slot as
  // its handler returns. Returns how many slots it consumed (holes included).
  template <class Handle> size_t drain(Handle &&handle, size_t limit);
  bool has_ready() const;
  // Returns when a message may be ready or `stop` is set: spins briefly, then sleeps.
  void wait_for_work(const std::atomic<bool> &stop);

private:
  // Slots live in anonymous pages that stay untouched (costing no memory) until a message first
  // lands in them: the all-zero slot is a valid free one, and its Message is built on first use.
  struct alignas(64) Slot {
    // The slot's sequence minus its index (sequence == position: free; == position + 1:
    // committed), so a fresh zero slot reads as free for the first lap. Accessed atomically.
    uint64_t offset_sequence;
    bool deliver;
    bool constructed; // `storage` holds a Message
    alignas(Message) unsigned char storage[sizeof(Message)];
    Message &message() { return *std::launder(reinterpret_cast<Message *>(storage)); }
  };

  Slot &slot_at(uint64_t position) { return slots_[position & mask_]; }
  const Slot &slot_at(uint64_t position) const { return slots_[position & mask_]; }
  uint64_t sequence(uint64_t position, std::memory_order order) const {
    auto &slot = const_cast<Slot &>(slot_at(position));
    return std::atomic_ref<uint64_t>(slot.offset_sequence).load(order) + (position & mask_);
  }
  void set_sequence(uint64_t position, uint64_t value, std::memory_order order) {
    std::atomic_ref<uint64_t>(slot_at(position).offset_sequence).store(value - (position & mask_), order);
  }
  bool try_claim(uint64_t &position);
  void wake_waiting_producers();

  Slot *slots_ = nullptr; // mmap'd: capacity() slots
  uint64_t mask_;
  size_t max_slot_bytes_;

  alignas(64) std::atomic<uint64_t> enqueue_position_{0}; // producers
  alignas(64) uint64_t dequeue_position_ = 0;             // consumer only
  std::atomic<uint64_t> consumed_{0};                     // dequeue_position_, for pending()
  alignas(64) std::atomic<bool> consumer_sleeping_{false};
  alignas(64) std::atomic<uint32_t> producers_waiting_{0};
  std::mutex space_mutex_;
  std::condition_variable space_freed_;
};

template <class Handle> size_t MessageRing::drain(Handle &&handle, size_t limit) {
  // Wake blocked producers (and refresh pending()) every so often during a long batch, not
  // after every message.
  constexpr size_t wake_interval = 64;
  size_t taken = 0;
  while (taken < limit) {
    Slot &slot = slot_at(dequeue_position_);
    if (sequence(dequeue_position_, std::memory_order_acquire) != dequeue_position_ + 1)
      break;
    if (slot.deliver)
      handle(static_cast<const Message &>(slot.message()));
    if (slot.constructed && string_capacity(slot.message()) > max_slot_bytes_) { // a hole may have none
      // Destroyed and rebuilt empty: assigning an empty string would keep the capacity.
      std::destroy_at(&slot.message());
      std::construct_at(&slot.message());
    }
    set_sequence(dequeue_position_, dequeue_position_ + mask_ + 1, std::memory_order_release);
    ++dequeue_position_;
    ++taken;
    if (taken % wake_interval == 0) {
      consumed_.store(dequeue_position_, std::memory_order_release);
      wake_waiting_producers();
    }
  }
  if (taken != 0) {
    consumed_.store(dequeue_position_, std::memory_order_release);
    wake_waiting_producers();
  }
  return taken;
}

} // namespace th
