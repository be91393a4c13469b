// The message ring behind each embedded-bus subscription (bus/message_ring): capacity rounding,
// FIFO by claimed position whatever the commit order, holes skipped, a full ring refusing a
// claim until the consumer frees a slot (and waking the producer that waits for it), a sleeping
// consumer woken by a commit, the drain limit, and oversized slots emptied after their handler.
// A test that waits does so on the condition itself: a lost wake-up shows as a hang (ctest's
// timeout), never as a race against a clock.
#include "bus/message_ring.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace th {
namespace {

using Clock = MessageRing::Clock;

Message signal(const std::string &corr_id) {
  Signal s;
  s.corr_id = corr_id;
  s.instrument = "BTC/USDT";
  return Message{Subject::signals_normalized, s, {}};
}

// Claims the next slot without waiting, writes `message` and commits it.
uint64_t push(MessageRing &ring, const Message &message, bool deliver = true) {
  uint64_t position = 0;
  EXPECT_TRUE(ring.claim(position, Clock::now()));
  ring.slot_message(position) = message;
  ring.commit(position, deliver);
  return position;
}

std::vector<std::string> drain_all(MessageRing &ring, size_t limit = 1000) {
  std::vector<std::string> seen;
  ring.drain([&](const Message &m) { seen.push_back(corr_id_of(m)); }, limit);
  return seen;
}

TEST(MessageRing, CapacityIsAPowerOfTwoOfAtLeastTwo) {
  EXPECT_EQ(MessageRing(0).capacity(), 2u);
  EXPECT_EQ(MessageRing(1).capacity(), 2u);
  EXPECT_EQ(MessageRing(3).capacity(), 4u);
  EXPECT_EQ(MessageRing(4).capacity(), 4u);
  EXPECT_EQ(MessageRing(1000).capacity(), 1024u);
}

TEST(MessageRing, DeliversInClaimOrderAndCountsWhatItTook) {
  MessageRing ring(8);
  EXPECT_FALSE(ring.has_ready());
  for (const char *id : {"a", "b", "c"})
    push(ring, signal(id));
  EXPECT_TRUE(ring.has_ready());
  EXPECT_EQ(ring.claimed(), 3u);
  EXPECT_EQ(ring.consumed(), 0u);
  EXPECT_EQ(ring.pending(), 3u);
  EXPECT_EQ(drain_all(ring), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ring.consumed(), 3u);
  EXPECT_EQ(ring.pending(), 0u);
  EXPECT_FALSE(ring.has_ready());
}

TEST(MessageRing, AnEarlierClaimNotYetCommittedHoldsBackLaterOnes) {
  MessageRing ring(4);
  uint64_t first = 0, second = 0;
  ASSERT_TRUE(ring.claim(first, Clock::now()));
  ASSERT_TRUE(ring.claim(second, Clock::now()));
  EXPECT_EQ(second, first + 1);
  ring.slot_message(second) = signal("second");
  ring.commit(second, true);
  EXPECT_FALSE(ring.has_ready());
  EXPECT_TRUE(drain_all(ring).empty());
  ring.slot_message(first) = signal("first");
  ring.commit(first, true);
  EXPECT_EQ(drain_all(ring), (std::vector<std::string>{"first", "second"}));
}

TEST(MessageRing, HolesAreConsumedButNotDelivered) {
  MessageRing ring(4);
  push(ring, signal("kept-1"));
  push(ring, signal("dropped"), false); // a fan-out publish that timed out elsewhere
  push(ring, signal("kept-2"));
  std::vector<std::string> seen;
  const size_t taken = ring.drain([&](const Message &m) { seen.push_back(corr_id_of(m)); }, 100);
  EXPECT_EQ(taken, 3u);
  EXPECT_EQ(seen, (std::vector<std::string>{"kept-1", "kept-2"}));
  EXPECT_EQ(ring.consumed(), 3u);
}

TEST(MessageRing, DrainTakesAtMostItsLimit) {
  MessageRing ring(8);
  for (int i = 0; i < 5; ++i)
    push(ring, signal("m" + std::to_string(i)));
  EXPECT_EQ(drain_all(ring, 2), (std::vector<std::string>{"m0", "m1"}));
  EXPECT_EQ(ring.pending(), 3u);
  EXPECT_EQ(drain_all(ring, 2), (std::vector<std::string>{"m2", "m3"}));
  EXPECT_EQ(drain_all(ring, 2), (std::vector<std::string>{"m4"}));
}

TEST(MessageRing, AFullRingRefusesAClaimAndClaimsNothing) {
  MessageRing ring(2);
  push(ring, signal("a"));
  push(ring, signal("b"));
  uint64_t position = 0;
  EXPECT_FALSE(ring.claim(position, Clock::now())); // deadline already passed
  EXPECT_EQ(ring.claimed(), 2u);
  EXPECT_EQ(drain_all(ring, 1), (std::vector<std::string>{"a"}));
  ASSERT_TRUE(ring.claim(position, Clock::now())); // the freed slot, one lap on
  EXPECT_EQ(position, 2u);
  ring.slot_message(position) = signal("c");
  ring.commit(position, true);
  EXPECT_EQ(drain_all(ring), (std::vector<std::string>{"b", "c"}));
}

TEST(MessageRing, AProducerWaitingForRoomIsWokenWhenTheConsumerFreesASlot) {
  MessageRing ring(2);
  push(ring, signal("a"));
  push(ring, signal("b"));
  // No deadline in practice: only the consumer's wake-up can end this claim.
  auto producer = std::async(std::launch::async, [&] {
    uint64_t position = 0;
    const bool claimed = ring.claim(position, Clock::now() + std::chrono::hours(1));
    if (claimed) {
      ring.slot_message(position) = signal("waited");
      ring.commit(position, true);
    }
    return claimed ? position : uint64_t(-1);
  });
  EXPECT_EQ(drain_all(ring, 1), (std::vector<std::string>{"a"}));
  EXPECT_EQ(producer.get(), 2u);
  EXPECT_EQ(drain_all(ring), (std::vector<std::string>{"b", "waited"}));
}

TEST(MessageRing, ASleepingConsumerIsWokenByACommit) {
  MessageRing ring(4);
  std::atomic<bool> stop{false};
  auto consumer = std::async(std::launch::async, [&] {
    std::vector<std::string> seen;
    while (seen.empty()) {
      ring.wait_for_work(stop); // sleeps on the ring until a producer wakes it
      ring.drain([&](const Message &m) { seen.push_back(corr_id_of(m)); }, 16);
    }
    return seen;
  });
  push(ring, signal("wake"));
  std::atomic_thread_fence(std::memory_order_seq_cst);
  ring.wake_consumer();
  EXPECT_EQ(consumer.get(), (std::vector<std::string>{"wake"}));
}

TEST(MessageRing, WaitForWorkReturnsAtOnceWhenStopped) {
  MessageRing ring(4);
  std::atomic<bool> stop{true};
  ring.wait_for_work(stop); // would sleep for good if it ignored stop
  EXPECT_FALSE(ring.has_ready());
}

TEST(MessageRing, ASlotThatHeldALargeMessageIsEmptiedAfterItsHandler) {
  MessageRing ring(2, /*max_slot_bytes=*/1024);
  push(ring, signal(std::string(8192, 'x'))); // slot 0: past the bound
  push(ring, signal("small-but-not-inline")); // slot 1: kept as it is
  size_t capacity_seen = 0;
  ring.drain([&](const Message &m) { capacity_seen = std::max(capacity_seen, string_capacity(m)); }, 16);
  EXPECT_GE(capacity_seen, 8192u); // the handler saw the whole message
  uint64_t again = 0;
  ASSERT_TRUE(ring.claim(again, Clock::now()));
  ASSERT_EQ(again & 1, 0u);
  EXPECT_EQ(string_capacity(ring.slot_message(again)), 0u); // rebuilt empty: its memory freed
  ring.commit(again, false);
  ASSERT_TRUE(ring.claim(again, Clock::now()));
  EXPECT_EQ(corr_id_of(ring.slot_message(again)), "small-but-not-inline"); // reused, capacity kept
  EXPECT_GT(string_capacity(ring.slot_message(again)), 0u);
  ring.commit(again, false);
  EXPECT_EQ(ring.drain([](const Message &) {}, 16), 2u);
}

} // namespace
} // namespace th
