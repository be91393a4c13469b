// The in-process bus: one MessageRing and one delivery thread per subscription. A publish is
// all-or-nothing across the subscriptions of its subject: it first claims a slot in every
// target ring (waiting for space up to the timeout), then copies the message into each. If a
// claim times out, the slots already claimed become holes and nothing is delivered anywhere.
#include "bus/embedded_bus.hpp"

#include "bus/message_ring.hpp"
#include "observability/log.hpp"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <mutex>
#include <pthread.h>
#include <stdexcept>
#include <thread>

namespace th {
namespace {

class EmbeddedBus;

// The bus whose handler this thread is running, so a publish from inside a handler can be
// told apart from an outside one while stop() drains.
thread_local const EmbeddedBus *delivering_bus = nullptr;
// The subscription whose handler this thread runs, so wait_settled() knows which handlers publish.
thread_local std::atomic<bool> *delivering_publishes = nullptr;

// Up to this many subscriptions per subject, claim positions live on the stack.
constexpr size_t inline_fan_out = 16;

// Longer timeouts are clamped (publish) or mean "forever" (wait_idle) so the deadline arithmetic cannot
// overflow.
constexpr std::chrono::milliseconds longest_timeout = std::chrono::hours(24 * 30);

class EmbeddedBus final : public Bus {
public:
  explicit EmbeddedBus(const EmbeddedBusOptions &options) : options_(options) {}
  ~EmbeddedBus() override {
    try {
      stop();
    } catch (...) { // stop() only throws when misused from a handler; nothing to do here
    }
  }

  void subscribe(const SubscriptionSpec &spec, Handler handler) override {
    std::lock_guard lock(lifecycle_mutex_);
    if (started_)
      throw std::runtime_error("embedded bus: subscribe(\"" + spec.durable + "\") after start()");
    if (spec.durable.empty())
      throw std::runtime_error("embedded bus: subscription without a durable name");
    if (spec.subjects.empty())
      throw std::runtime_error("embedded bus: subscription \"" + spec.durable + "\" has no subjects");
    if (!handler)
      throw std::runtime_error("embedded bus: subscription \"" + spec.durable + "\" has no handler");
    for (const auto &existing : subscriptions_)
      if (existing->durable == spec.durable)
        throw std::runtime_error("embedded bus: durable name \"" + spec.durable +
                                 "\" is already subscribed (the embedded bus does not share work)");

    auto subscription = std::make_unique<Subscription>(spec.durable, std::move(handler),
                                                       options_.queue_capacity, options_.max_slot_bytes);
    std::array<bool, subject_count> taken{};
    for (Subject subject : spec.subjects) {
      const auto index = static_cast<size_t>(subject);
      if (index >= subject_count)
        throw std::runtime_error("embedded bus: subscription \"" + spec.durable +
                                 "\" names an unknown subject");
      if (taken[index])
        continue; // listed twice: deliver once
      taken[index] = true;
      if (!subscription->filter.empty())
        subscription->filter += ',';
      subscription->filter += subject_name(subject);
      routes_[index].push_back(subscription.get());
    }
    subscriptions_.push_back(std::move(subscription));
  }

  void start() override {
    std::lock_guard lock(lifecycle_mutex_);
    start_locked();
  }

  PublishStatus publish(const Message &message, std::chrono::milliseconds timeout) override {
    const auto index = static_cast<size_t>(message.subject);
    if (index >= subject_count)
      return PublishStatus::unavailable;
    const std::vector<Subscription *> &targets = routes_[index];
    const size_t fan_out = targets.size();

    // Counted before the closing check, so stop() either sees this publish in flight or we
    // see it closing (both are seq_cst).
    in_flight_.fetch_add(static_cast<int64_t>(fan_out), std::memory_order_seq_cst);
    if (stopped_.load(std::memory_order_seq_cst) ||
        (closing_.load(std::memory_order_seq_cst) && delivering_bus != this)) {
      finish(fan_out);
      return PublishStatus::unavailable;
    }
    if (delivering_publishes && delivering_bus == this &&
        !delivering_publishes->load(std::memory_order_relaxed))
      delivering_publishes->store(true, std::memory_order_relaxed);
    if (fan_out == 0)
      return PublishStatus::ok; // nobody listens; like a stream nobody consumes

    std::array<uint64_t, inline_fan_out> inline_positions;
    std::vector<uint64_t> heap_positions;
    uint64_t *positions = inline_positions.data();
    if (fan_out > inline_fan_out) {
      heap_positions.resize(fan_out);
      positions = heap_positions.data();
    }

    const auto deadline = MessageRing::Clock::now() + std::min(timeout, longest_timeout);
    size_t claimed = 0;
    while (claimed < fan_out && targets[claimed]->ring.claim(positions[claimed], deadline))
      ++claimed;
    const bool complete = claimed == fan_out;
    for (size_t i = 0; i < claimed; ++i) {
      MessageRing &ring = targets[i]->ring;
      if (complete)
        ring.slot_message(positions[i]) = message; // reuses the slot's capacity
      ring.commit(positions[i], complete);
    }
    std::atomic_thread_fence(std::memory_order_seq_cst); // commits before reading sleep flags
    for (size_t i = 0; i < claimed; ++i)
      targets[i]->ring.wake_consumer();

    if (!complete) {
      finish(fan_out - claimed); // the holes are counted down by their consumers
      log::warn("bus_publish_timeout",
                {{"bus", "embedded"},
                 {"subject", subject_name(message.subject)},
                 {"durable", targets[claimed]->durable},
                 {"timeout_ms", timeout.count()},
                 {"capacity", targets[claimed]->ring.capacity()}},
                corr_id_of(message));
      return PublishStatus::unavailable;
    }
    return PublishStatus::ok;
  }

  bool wait_idle(std::chrono::milliseconds timeout) override {
    if (timeout >= longest_timeout)
      return wait_until_idle(std::chrono::steady_clock::time_point::max());
    return wait_until_idle(std::chrono::steady_clock::now() + timeout);
  }

  bool wait_settled(std::chrono::milliseconds timeout) override {
    // Generation by generation: once every ring has consumed past what was claimed in it at the
    // start of a round, the messages of that round were handled and whatever their handlers
    // published is claimed somewhere, so the next round covers it. Only rings whose handlers
    // publish can start a new generation; the others (the audit stage) are waited for once, at
    // the end, so a backlog there is drained once and not once per round.
    constexpr int generations = 8;
    const auto deadline = std::chrono::steady_clock::now() + std::min(timeout, longest_timeout);
    const auto reach = [&](Subscription &s, uint64_t target) {
      while (s.ring.consumed() < target) {
        if (std::chrono::steady_clock::now() >= deadline || stopped_.load())
          return false;
        std::this_thread::sleep_for(std::chrono::microseconds(200)); // background caller only
      }
      return true;
    };
    std::vector<uint64_t> targets(subscriptions_.size());
    const auto publishers = [&] {
      size_t n = 0;
      for (auto &s : subscriptions_)
        n += s->publishes.load();
      return n;
    };
  again:
    const size_t publishing = publishers();
    for (int round = 0; round < generations; ++round) {
      bool pending = false;
      for (size_t i = 0; i < subscriptions_.size(); ++i) {
        targets[i] = subscriptions_[i]->ring.claimed();
        pending |= subscriptions_[i]->publishes.load() && subscriptions_[i]->ring.consumed() < targets[i];
      }
      if (!pending)
        break;
      for (size_t i = 0; i < subscriptions_.size(); ++i)
        if (subscriptions_[i]->publishes.load() && !reach(*subscriptions_[i], targets[i]))
          return false;
    }
    for (size_t i = 0; i < subscriptions_.size(); ++i)
      if (!reach(*subscriptions_[i], subscriptions_[i]->ring.claimed()))
        return false;
    if (publishers() != publishing) // a handler published for the first time meanwhile: not covered
      goto again;
    return true;
  }

  void stop() override {
    if (delivering_bus == this)
      throw std::logic_error("embedded bus: stop() called from a bus handler");
    std::lock_guard lock(lifecycle_mutex_);
    if (stopped_.load())
      return;
    start_locked(); // messages published before start() are drained too
    closing_.store(true, std::memory_order_seq_cst);
    wait_until_idle(std::chrono::steady_clock::time_point::max()); // includes handler-published cascades
    stopped_.store(true, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    for (auto &subscription : subscriptions_)
      subscription->ring.wake_consumer();
    for (auto &subscription : subscriptions_)
      if (subscription->thread.joinable())
        subscription->thread.join();
  }

  BusHealth health() const override {
    BusHealth health{"embedded", {}, {}};
    health.consumers.reserve(subscriptions_.size());
    for (const auto &subscription : subscriptions_) {
      ConsumerHealth consumer;
      consumer.durable = subscription->durable;
      consumer.filter_subject = subscription->filter;
      consumer.num_pending = subscription->ring.pending();
      consumer.num_waiting = 0;
      // A full queue is applying back-pressure to its publishers: degraded, not broken.
      consumer.healthy = !stopped_.load() && consumer.num_pending < subscription->ring.capacity();
      health.consumers.push_back(std::move(consumer));
    }
    return health;
  }

private:
  struct Subscription {
    Subscription(std::string durable_, Handler handler_, size_t capacity, size_t max_slot_bytes)
        : durable(std::move(durable_)), handler(std::move(handler_)), ring(capacity, max_slot_bytes) {}
    std::string durable;
    std::string filter; // subjects joined with ","
    Handler handler;
    std::atomic<bool> publishes{false}; // its handler has published (wait_settled)
    MessageRing ring;
    std::thread thread;
  };

  void start_locked() {
    if (started_)
      return;
    started_ = true;
    for (auto &subscription : subscriptions_)
      subscription->thread = std::thread([this, s = subscription.get()] { deliver_loop(*s); });
  }

  void deliver_loop(Subscription &subscription) {
    delivering_bus = this;
    delivering_publishes = &subscription.publishes;
    // Named after the durable (truncated to the kernel's 15 characters) for top, perf and the benchmarks.
    ::pthread_setname_np(::pthread_self(), subscription.durable.substr(0, 15).c_str());
    MessageRing &ring = subscription.ring;
    const auto handle = [&](const Message &message) { deliver(subscription, message); };
    for (;;) {
      const size_t handled = ring.drain(handle, ring.capacity());
      if (handled != 0) {
        finish(handled);
        continue;
      }
      // stopped_ is only set once nothing is in flight, so an empty ring stays empty.
      if (stopped_.load(std::memory_order_acquire))
        break;
      ring.wait_for_work(stopped_);
    }
    delivering_bus = nullptr;
    delivering_publishes = nullptr;
  }

  void deliver(Subscription &subscription, const Message &message) {
    try {
      subscription.handler(Delivery{message});
    } catch (const std::exception &e) {
      report_handler_failure(subscription, message, e.what());
    } catch (...) {
      report_handler_failure(subscription, message, "unknown exception");
    }
  }

  static void report_handler_failure(const Subscription &subscription, const Message &message,
                                     const char *what) {
    log::error("bus_handler_failed",
               {{"bus", "embedded"},
                {"durable", subscription.durable},
                {"subject", subject_name(message.subject)},
                {"error", what}},
               corr_id_of(message));
  }

  // Counts `count` deliveries as done and wakes idle waiters when nothing is left.
  void finish(size_t count) {
    if (count == 0)
      return;
    const auto before = in_flight_.fetch_sub(static_cast<int64_t>(count), std::memory_order_seq_cst);
    if (before != static_cast<int64_t>(count))
      return;
    if (idle_waiters_.load(std::memory_order_seq_cst) == 0)
      return;
    std::lock_guard lock(idle_mutex_);
    idle_.notify_all();
  }

  bool wait_until_idle(std::chrono::steady_clock::time_point deadline) {
    if (in_flight_.load(std::memory_order_seq_cst) == 0)
      return true;
    idle_waiters_.fetch_add(1, std::memory_order_seq_cst);
    bool idle;
    {
      std::unique_lock lock(idle_mutex_);
      const auto is_idle = [&] { return in_flight_.load(std::memory_order_seq_cst) == 0; };
      if (deadline == std::chrono::steady_clock::time_point::max()) {
        idle_.wait(lock, is_idle);
        idle = true;
      } else {
        idle = idle_.wait_until(lock, deadline, is_idle);
      }
    }
    idle_waiters_.fetch_sub(1, std::memory_order_seq_cst);
    return idle;
  }

  const EmbeddedBusOptions options_;
  std::vector<std::unique_ptr<Subscription>> subscriptions_;
  std::array<std::vector<Subscription *>, subject_count> routes_; // fixed once started

  std::mutex lifecycle_mutex_;
  bool started_ = false;
  std::atomic<bool> closing_{false}; // stop() began: only handlers of this bus may publish
  std::atomic<bool> stopped_{false}; // drained; delivery threads exit

  alignas(64) std::atomic<int64_t> in_flight_{0}; // enqueued (or being enqueued) and not yet handled
  alignas(64) std::atomic<uint32_t> idle_waiters_{0};
  std::mutex idle_mutex_;
  std::condition_variable idle_;
};

} // namespace

std::unique_ptr<Bus> make_embedded_bus(const EmbeddedBusOptions &options) {
  return std::make_unique<EmbeddedBus>(options);
}

} // namespace th
