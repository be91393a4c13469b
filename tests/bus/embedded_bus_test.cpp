// The embedded bus: ordering, fan-out, exact counts under contention, back-pressure without
// drops, idle/drain semantics, handler failures, and no heap allocation per event.
#include "bus/embedded_bus.hpp"
#include "observability/log.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <new>
#include <sstream>
#include <thread>
#include <unistd.h>

// ---- allocation counting for the whole test binary ----
namespace {
std::atomic<uint64_t> g_allocations{0};
}

void *operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void *p = std::malloc(size == 0 ? 1 : size))
    return p;
  throw std::bad_alloc();
}
void *operator new[](std::size_t size) {
  return ::operator new(size);
}
void *operator new(std::size_t size, std::align_val_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const auto a = static_cast<std::size_t>(align);
  if (void *p = std::aligned_alloc(a, (size + a - 1) / a * a))
    return p;
  throw std::bad_alloc();
}
void *operator new[](std::size_t size, std::align_val_t align) {
  return ::operator new(size, align);
}
// The matching deletes: libstdc++'s default ones also call free(), but under AddressSanitizer
// they are its own, which report memory from malloc() as an alloc-dealloc mismatch. gcc's
// -Wmismatched-new-delete sees free() inlined under a `new` it takes for the library's own.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void *p) noexcept {
  std::free(p);
}
void operator delete[](void *p) noexcept {
  std::free(p);
}
void operator delete(void *p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void *p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void *p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void *p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void *p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace th {
namespace {

using namespace std::chrono_literals;

constexpr auto long_wait = 20s; // only ever reached when a test fails

// A signal whose price carries a sequence number and whose strength names its producer.
Message signal_message(int sequence, int producer = 0) {
  Signal s;
  s.corr_id = "test_corr_id_long_enough_" + std::to_string(producer);
  s.instrument = "BTC/USDT";
  s.action = TH_SIGNAL_BUY;
  s.strength = producer;
  s.price = sequence;
  s.timestamp_ns = 1;
  return Message{Subject::signals_normalized, s, {}};
}

Message fill_message(int sequence) {
  Fill f;
  f.corr_id = "test_fill_corr_id";
  f.fill_id = "fill";
  f.instrument = "BTC/USDT";
  f.quantity_filled = sequence;
  return Message{Subject::executions_fill, f, {}};
}

int sequence_of(const Message &m) {
  if (const auto *s = std::get_if<Signal>(&m.payload))
    return static_cast<int>(*s->price);
  if (const auto *f = std::get_if<Fill>(&m.payload))
    return static_cast<int>(f->quantity_filled);
  return -1;
}

// A door a handler can wait at: lets a test hold the consumer still, deterministically.
class Gate {
public:
  void wait_open() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  bool wait_until_someone_waits() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, long_wait, [&] { return waiting_ > 0; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int waiting_ = 0;
};

TEST(EmbeddedBus, OrdersEachSubscriberAcrossItsSubjects) {
  auto bus = make_embedded_bus({.queue_capacity = 64});
  std::vector<std::pair<Subject, int>> seen;
  bus->subscribe({"both", {Subject::signals_normalized, Subject::executions_fill}},
                 [&](const Delivery &d) { seen.emplace_back(d.message.subject, sequence_of(d.message)); });
  bus->start();
  constexpr int n = 5000;
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(bus->publish(i % 3 == 0 ? fill_message(i) : signal_message(i)), PublishStatus::ok);
  ASSERT_TRUE(bus->wait_idle(long_wait));
  ASSERT_EQ(seen.size(), size_t{n});
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(seen[i].second, i);
    EXPECT_EQ(seen[i].first, i % 3 == 0 ? Subject::executions_fill : Subject::signals_normalized);
  }
}

TEST(EmbeddedBus, FansOutEveryMessageToEverySubscriberInOrder) {
  auto bus = make_embedded_bus({.queue_capacity = 128});
  constexpr int subscribers = 3;
  std::vector<std::vector<int>> seen(subscribers);
  for (int s = 0; s < subscribers; ++s)
    bus->subscribe({"sub-" + std::to_string(s), {Subject::signals_normalized}},
                   [&, s](const Delivery &d) { seen[s].push_back(sequence_of(d.message)); });
  std::atomic<int> fills{0};
  bus->subscribe({"fills-only", {Subject::executions_fill}}, [&](const Delivery &) { ++fills; });
  bus->start();
  constexpr int n = 3000;
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(bus->publish(signal_message(i)), PublishStatus::ok);
  ASSERT_TRUE(bus->wait_idle(long_wait));
  for (int s = 0; s < subscribers; ++s) {
    ASSERT_EQ(seen[s].size(), size_t{n}) << "subscriber " << s;
    for (int i = 0; i < n; ++i)
      ASSERT_EQ(seen[s][i], i);
  }
  EXPECT_EQ(fills.load(), 0);
}

TEST(EmbeddedBus, ManyProducersDeliverExactCountsInPerProducerOrder) {
  auto bus = make_embedded_bus({.queue_capacity = 32}); // small: producers contend and block
  constexpr int producers = 4;
  constexpr int per_producer = 20000;
  std::vector<int> next_expected(producers, 0);
  int out_of_order = 0;
  bus->subscribe({"counter", {Subject::signals_normalized}}, [&](const Delivery &d) {
    const auto &s = std::get<Signal>(d.message.payload);
    int &expected = next_expected[static_cast<int>(s.strength)];
    if (static_cast<int>(*s.price) != expected)
      ++out_of_order;
    expected = static_cast<int>(*s.price) + 1;
  });
  bus->start();
  std::vector<std::future<int>> results;
  results.reserve(producers);
  for (int p = 0; p < producers; ++p)
    results.push_back(std::async(std::launch::async, [&, p] {
      int failures = 0;
      const Message templ = signal_message(0, p);
      Message m = templ;
      for (int i = 0; i < per_producer; ++i) {
        std::get<Signal>(m.payload).price = i;
        if (bus->publish(m, long_wait) != PublishStatus::ok)
          ++failures;
      }
      return failures;
    }));
  for (auto &r : results)
    EXPECT_EQ(r.get(), 0);
  ASSERT_TRUE(bus->wait_idle(long_wait));
  EXPECT_EQ(out_of_order, 0);
  for (int p = 0; p < producers; ++p)
    EXPECT_EQ(next_expected[p], per_producer) << "producer " << p;
}

TEST(EmbeddedBus, FullQueueBlocksPublishersThenTimesOutWithoutDropping) {
  auto bus = make_embedded_bus({.queue_capacity = 3}); // rounded up to 4
  Gate gate;
  std::vector<int> seen;
  bus->subscribe({"slow", {Subject::signals_normalized}}, [&](const Delivery &d) {
    if (seen.empty())
      gate.wait_open();
    seen.push_back(sequence_of(d.message));
  });
  bus->start();
  ASSERT_EQ(bus->publish(signal_message(0)), PublishStatus::ok);
  ASSERT_TRUE(gate.wait_until_someone_waits()); // message 0 is in the handler, holding its slot
  for (int i = 1; i <= 3; ++i)
    ASSERT_EQ(bus->publish(signal_message(i), 0ms), PublishStatus::ok);
  EXPECT_EQ(bus->health().consumers.at(0).num_pending, 4u);
  EXPECT_FALSE(bus->health().consumers.at(0).healthy);

  // Full: a short timeout gives up and reports it; the message is not queued anywhere.
  EXPECT_EQ(bus->publish(signal_message(100), 20ms), PublishStatus::unavailable);

  // A patient publisher blocks until the consumer makes room.
  std::atomic<bool> blocked_publish_done{false};
  auto blocked = std::async(std::launch::async, [&] {
    const PublishStatus status = bus->publish(signal_message(4), long_wait);
    blocked_publish_done = true;
    return status;
  });
  EXPECT_FALSE(blocked_publish_done.load()); // cannot finish: the only consumer is held at the gate
  gate.open();
  EXPECT_EQ(blocked.get(), PublishStatus::ok);
  ASSERT_TRUE(bus->wait_idle(long_wait));
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(bus->health().consumers.at(0).num_pending, 0u);
}

TEST(EmbeddedBus, TimedOutFanOutDeliversToNobody) {
  auto bus = make_embedded_bus({.queue_capacity = 2});
  Gate gate;
  std::vector<int> slow_seen, fast_seen;
  // "fast" subscribes first, so the publish claims its slot before timing out on "slow".
  bus->subscribe({"fast", {Subject::signals_normalized}},
                 [&](const Delivery &d) { fast_seen.push_back(sequence_of(d.message)); });
  bus->subscribe({"slow", {Subject::signals_normalized}}, [&](const Delivery &d) {
    if (slow_seen.empty())
      gate.wait_open();
    slow_seen.push_back(sequence_of(d.message));
  });
  bus->start();
  ASSERT_EQ(bus->publish(signal_message(0)), PublishStatus::ok);
  ASSERT_TRUE(gate.wait_until_someone_waits());
  ASSERT_EQ(bus->publish(signal_message(1)), PublishStatus::ok);
  EXPECT_EQ(bus->publish(signal_message(2), 10ms), PublishStatus::unavailable);
  gate.open();
  ASSERT_EQ(bus->publish(signal_message(3)), PublishStatus::ok);
  ASSERT_TRUE(bus->wait_idle(long_wait));
  EXPECT_EQ(fast_seen, (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(slow_seen, (std::vector<int>{0, 1, 3}));
}

TEST(EmbeddedBus, WaitIdleCoversMessagesPublishedByHandlers) {
  auto bus = make_embedded_bus({.queue_capacity = 16});
  std::atomic<int> intents{0}, fills{0};
  bus->subscribe({"agents", {Subject::signals_normalized}}, [&](const Delivery &d) {
    OrderIntent o;
    o.corr_id = corr_id_of(d.message);
    o.quantity = sequence_of(d.message);
    EXPECT_EQ(bus->publish(Message{Subject::decisions_order_intent, o, {}}), PublishStatus::ok);
  });
  bus->subscribe({"exec", {Subject::decisions_order_intent}}, [&](const Delivery &d) {
    ++intents;
    Fill f;
    f.corr_id = corr_id_of(d.message);
    f.quantity_filled = std::get<OrderIntent>(d.message.payload).quantity;
    EXPECT_EQ(bus->publish(Message{Subject::executions_fill, f, {}}), PublishStatus::ok);
  });
  std::vector<int> fill_sequences;
  bus->subscribe({"audit", {Subject::executions_fill}}, [&](const Delivery &d) {
    fill_sequences.push_back(sequence_of(d.message));
    ++fills;
  });
  bus->start();
  constexpr int n = 2000;
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(bus->publish(signal_message(i)), PublishStatus::ok);
  ASSERT_TRUE(bus->wait_idle(long_wait));
  EXPECT_EQ(intents.load(), n);
  EXPECT_EQ(fills.load(), n);
  ASSERT_EQ(fill_sequences.size(), size_t{n});
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(fill_sequences[i], i);
}

TEST(EmbeddedBus, WaitIdleTimesOutWhileAHandlerIsBusy) {
  auto bus = make_embedded_bus({.queue_capacity = 4});
  Gate gate;
  bus->subscribe({"held", {Subject::signals_normalized}}, [&](const Delivery &) { gate.wait_open(); });
  bus->start();
  EXPECT_TRUE(bus->wait_idle(0ms)); // nothing published yet
  ASSERT_EQ(bus->publish(signal_message(0)), PublishStatus::ok);
  ASSERT_TRUE(gate.wait_until_someone_waits());
  EXPECT_FALSE(bus->wait_idle(10ms));
  gate.open();
  EXPECT_TRUE(bus->wait_idle(std::chrono::milliseconds::max())); // no overflow: waits as long as needed
}

TEST(EmbeddedBus, StopDrainsQueuedMessagesAndTheirCascadesThenRefusesPublishes) {
  auto bus = make_embedded_bus({.queue_capacity = 4096});
  Gate gate;
  std::atomic<int> signals{0}, fills{0};
  bus->subscribe({"agents", {Subject::signals_normalized}}, [&](const Delivery &d) {
    if (signals++ == 0)
      gate.wait_open();
    EXPECT_EQ(bus->publish(fill_message(sequence_of(d.message))),
              PublishStatus::ok); // accepted while draining
  });
  bus->subscribe({"audit", {Subject::executions_fill}}, [&](const Delivery &) { ++fills; });
  // Published before start(): queued, and drained by stop().
  ASSERT_EQ(bus->publish(signal_message(0)), PublishStatus::ok);
  bus->start();
  ASSERT_TRUE(gate.wait_until_someone_waits());
  constexpr int n = 1000;
  for (int i = 1; i < n; ++i)
    ASSERT_EQ(bus->publish(signal_message(i)), PublishStatus::ok);
  auto stopping = std::async(std::launch::async, [&] { bus->stop(); });
  // Once stop() has begun, outside publishes are refused even though delivery goes on. The
  // probe's subject has no subscriber, so only closing (never a full queue) can refuse it.
  const Message probe{Subject::audit_event, AuditRecord{}, {}};
  const auto deadline = std::chrono::steady_clock::now() + long_wait;
  while (bus->publish(probe, 0ms) == PublishStatus::ok) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::yield();
  }
  gate.open();
  stopping.get();
  EXPECT_EQ(signals.load(), n);
  EXPECT_EQ(fills.load(), n);
  EXPECT_EQ(bus->publish(signal_message(n)), PublishStatus::unavailable);
  EXPECT_EQ(bus->publish(fill_message(n)), PublishStatus::unavailable);
  bus->stop(); // idempotent
}

TEST(EmbeddedBus, HandlerExceptionsAreLoggedAndDeliveryContinues) {
  const auto log_path =
      std::filesystem::temp_directory_path() / ("embedded_bus_test_" + std::to_string(::getpid()) + ".log");
  log::set_file(log_path.string());
  auto bus = make_embedded_bus({.queue_capacity = 16});
  std::vector<int> seen;
  bus->subscribe({"flaky", {Subject::signals_normalized}}, [&](const Delivery &d) {
    const int i = sequence_of(d.message);
    seen.push_back(i);
    if (i % 2 == 1)
      throw std::runtime_error("odd sequence " + std::to_string(i));
    if (i == 4)
      throw 42; // not even an exception type
  });
  bus->start();
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(bus->publish(signal_message(i)), PublishStatus::ok);
  ASSERT_TRUE(bus->wait_idle(long_wait));
  bus->stop();
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));

  std::ifstream in(log_path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string logged = text.str();
  std::filesystem::remove(log_path);
  size_t failures = 0;
  for (size_t at = logged.find("bus_handler_failed"); at != std::string::npos;
       at = logged.find("bus_handler_failed", at + 1))
    ++failures;
  EXPECT_EQ(failures, 6u) << logged;
  EXPECT_NE(logged.find("odd sequence 7"), std::string::npos);
  EXPECT_NE(logged.find("unknown exception"), std::string::npos);
  EXPECT_NE(logged.find("\"corr_id\":\"test_corr_id_long_enough_0\""), std::string::npos);
  EXPECT_NE(logged.find("\"durable\":\"flaky\""), std::string::npos);
}

TEST(EmbeddedBus, NoHeapAllocationPerEventAfterWarmUp) {
  constexpr size_t capacity = 64;
  auto bus = make_embedded_bus({.queue_capacity = capacity});
  std::atomic<uint64_t> handled{0};
  double checksum = 0;
  bus->subscribe({"a", {Subject::signals_normalized}}, [&](const Delivery &d) {
    checksum += *std::get<Signal>(d.message.payload).price;
    handled.fetch_add(1, std::memory_order_relaxed);
  });
  bus->subscribe({"b", {Subject::signals_normalized}},
                 [&](const Delivery &) { handled.fetch_add(1, std::memory_order_relaxed); });
  bus->start();
  Message m = signal_message(0);
  std::get<Signal>(m.payload).source = "a source longer than the small-string buffer";
  m.msg_id = "a message id longer than the small-string buffer";
  const uint64_t at_start = g_allocations.load();
  for (size_t i = 0; i < 4 * capacity; ++i)
    ASSERT_EQ(bus->publish(m), PublishStatus::ok); // every slot used
  ASSERT_TRUE(bus->wait_idle(long_wait));
  EXPECT_GT(g_allocations.load(), at_start) << "the counter sees the slots' first copies";

  constexpr int n = 50000;
  const uint64_t before = g_allocations.load();
  for (int i = 0; i < n; ++i) {
    std::get<Signal>(m.payload).price = i;
    if (bus->publish(m) != PublishStatus::ok)
      break;
  }
  const bool idle = bus->wait_idle(long_wait);
  const uint64_t allocations = g_allocations.load() - before;
  ASSERT_TRUE(idle);
  EXPECT_EQ(handled.load(), 2 * (4 * capacity + n));
  EXPECT_EQ(allocations, 0u) << "heap allocations during " << n << " publishes";
  EXPECT_GT(checksum, 0);
}

TEST(EmbeddedBus, SubscriptionRules) {
  auto bus = make_embedded_bus();
  bus->subscribe({"mcp-signals", {Subject::signals_normalized}}, [](const Delivery &) {});
  EXPECT_THROW(bus->subscribe({"mcp-signals", {Subject::executions_fill}}, [](const Delivery &) {}),
               std::runtime_error);
  EXPECT_THROW(bus->subscribe({"", {Subject::executions_fill}}, [](const Delivery &) {}), std::runtime_error);
  EXPECT_THROW(bus->subscribe({"no-subjects", {}}, [](const Delivery &) {}), std::runtime_error);
  EXPECT_THROW(bus->subscribe({"no-handler", {Subject::executions_fill}}, Handler{}), std::runtime_error);
  bus->start();
  EXPECT_THROW(bus->subscribe({"late", {Subject::executions_fill}}, [](const Delivery &) {}),
               std::runtime_error);
  // Nobody listens to fills: the publish succeeds and goes nowhere.
  EXPECT_EQ(bus->publish(fill_message(1)), PublishStatus::ok);
  EXPECT_TRUE(bus->wait_idle(long_wait));
}

TEST(EmbeddedBus, HealthListsOneConsumerPerSubscription) {
  auto bus = make_embedded_bus({.queue_capacity = 8});
  Gate gate;
  bus->subscribe({"audit-all", {Subject::executions_fill, Subject::audit_event, Subject::executions_fill}},
                 [&](const Delivery &) { gate.wait_open(); });
  bus->subscribe({"exec-intents", {Subject::decisions_order_intent}}, [](const Delivery &) {});
  bus->start();
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(bus->publish(fill_message(i)), PublishStatus::ok);
  ASSERT_TRUE(gate.wait_until_someone_waits());
  const BusHealth health = bus->health();
  EXPECT_EQ(health.state, "embedded");
  ASSERT_EQ(health.consumers.size(), 2u);
  EXPECT_EQ(health.consumers[0].durable, "audit-all");
  EXPECT_EQ(health.consumers[0].filter_subject, "executions.fill,audit.event");
  EXPECT_EQ(health.consumers[0].num_pending, 3u); // one in the handler, two queued
  EXPECT_TRUE(health.consumers[0].healthy);
  EXPECT_EQ(health.consumers[1].durable, "exec-intents");
  EXPECT_EQ(health.consumers[1].filter_subject, "decisions.order_intent");
  EXPECT_EQ(health.consumers[1].num_pending, 0u);
  gate.open();
  ASSERT_TRUE(bus->wait_idle(long_wait));
  EXPECT_EQ(bus->health().consumers[0].num_pending, 0u);
}

} // namespace
} // namespace th
