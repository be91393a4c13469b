// The event bus seen by the pipeline: publish a Message on its subject; subscribe a handler to
// a set of subjects under a durable name. Two implementations: embedded_bus.hpp (in-process,
// the default) and jetstream_bus.hpp (NATS JetStream).
#pragma once

#include "bus/key_value.hpp"
#include "events/events.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace th {

enum class PublishStatus {
  ok,          // handed to the bus durably (embedded: enqueued; JetStream: acked)
  duplicate,   // the bus already had a message with this msg_id; nothing new was stored
  unavailable, // the bus cannot accept now (stopped, disconnected past the timeout, full past the timeout)
};

struct SubscriptionSpec {
  std::string durable;           // e.g. "mcp-signals"; subscribers with one durable share work
  std::vector<Subject> subjects; // delivered in publish order, across these subjects
};

// A delivery whose handler stores it asynchronously (an audit sink committing in its own
// thread) settles it later through this: stored(true) acknowledges the message, stored(false)
// has it delivered again. Callable once, from any thread; dropping it unsettled is stored(false).
class Settlement {
public:
  virtual ~Settlement() = default;
  virtual void stored(bool ok) = 0;
};

// Handlers run on a thread owned by the bus, one at a time per subscription. A handler that
// returns has "processed" the message (JetStream acks it then), unless it called defer().
// Redelivered messages (JetStream after a crash) carry redelivered = true.
struct Delivery {
  Delivery(const Message &m, bool again = false, std::function<std::shared_ptr<Settlement>()> deferral = {})
      : message(m), redelivered(again), defer(std::move(deferral)) {}
  const Message &message;
  bool redelivered = false;
  // Set by buses that acknowledge (JetStream): called from the handler, it takes the message's
  // acknowledgement over (the bus then neither acks nor naks it when the handler returns; the
  // handler must publish nothing). Null on the embedded buses: a returned handler is done.
  std::function<std::shared_ptr<Settlement>()> defer;
};
using Handler = std::function<void(const Delivery &)>;

struct ConsumerHealth {
  std::string durable;
  std::string filter_subject;
  bool healthy = true;
  uint64_t num_pending = 0;
  uint64_t num_waiting = 0;
};

struct BusHealth {
  std::string state; // "embedded", "connected", "disconnected"
  std::vector<ConsumerHealth> consumers;
  std::string problem; // non-empty: the bus cannot accept signals now, and why (e.g. inbox unwritable)
};

// start() gave up because cancel_start() was called (SIGINT/SIGTERM while starting).
struct BusStartCancelled : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Bus {
public:
  virtual ~Bus() = default;

  // Subscribe before start(). Throws std::runtime_error on a bad spec.
  virtual void subscribe(const SubscriptionSpec &spec, Handler handler) = 0;

  // A durable consumer that processes other than this one read (the contract's meta-decisions,
  // for meta agents): a bus with durable consumers creates or checks it at start() like a
  // subscription's, so messages wait for its readers from then on. Nothing here reads it, and it
  // is not in health(). Call before start(); the embedded bus has no durables and ignores it.
  virtual void declare_consumer(const SubscriptionSpec &) {}

  // Throws std::runtime_error when the bus cannot start (JetStream: after retrying for
  // bus.jetstream.start_timeout_ms), BusStartCancelled after cancel_start().
  virtual void start() = 0;
  // From another thread (a signal during start-up): a start() in progress gives up promptly
  // and throws BusStartCancelled. No effect on a bus that started.
  virtual void cancel_start() {}

  // Publishes message. Blocks while a subscriber queue is full (back-pressure, never a silent
  // drop) for at most `timeout`, then returns unavailable. Safe from any thread, including
  // from inside a handler.
  virtual PublishStatus publish(const Message &message,
                                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) = 0;

  // Waits until every message published so far has been handled by every subscriber
  // (including messages those handlers published in turn). Returns false on timeout.
  virtual bool wait_idle(std::chrono::milliseconds timeout) = 0;

  // Waits until every message published before the call has been handled by every subscriber,
  // and so have the messages those handlers published, and theirs (a few generations: signal,
  // decision, fill, reconcile), even while new messages keep arriving. Returns false on timeout.
  // The inbox retirer (app/acceptance.hpp) uses it; by default the bus must go idle.
  virtual bool wait_settled(std::chrono::milliseconds timeout) { return wait_idle(timeout); }

  // Stops delivery after draining what is queued; later publishes return unavailable.
  virtual void stop() = 0;

  virtual BusHealth health() const = 0;

  // A key-value bucket `name` shared by every process on this bus, each record kept for `ttl`
  // after its last write (JetStream: the bucket "{stream}_{name}", created or opened at start()).
  // Null on buses that are not shared between processes (embedded, sequential).
  virtual std::shared_ptr<KeyValue> key_value(const std::string & /*name*/, std::chrono::seconds /*ttl*/) {
    return nullptr;
  }
};

} // namespace th
