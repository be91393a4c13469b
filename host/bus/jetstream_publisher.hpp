// Publishing on the JetStream bus (the part nats.c keeps in js.c's publish side): one reply
// inbox per publishing thread, in-flight PubAcks bounded by max_in_flight, resends of "no
// responders" with the same Nats-Msg-Id, and a handler's publishes sent as effects of the
// delivery it handles (docs/jetstream.md, "Publishing", "Deferred handler publishes").
//
// Lock: publish_mutex_ (with publish_cv_) guards accepting_, started_ok_, callers_ and
// in_flight_: who may still touch the connections, and the slots of PubAcks not read yet.
// inboxes_mutex_ guards only the list of inboxes (each inbox is read by its own thread).
// Threads: publish() and write_effect() run on any caller's thread (gateway io threads,
// fetch threads, the host's own); a PubAck is read by the thread that sent the publish,
// from its own inbox. open()/close() run on the thread that starts and stops the bus.
#pragma once

#include "bus/bus.hpp"
#include "bus/jetstream_connection.hpp"
#include "bus/key_value.hpp"

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace th {

class JetStreamPublisher;

// The delivery whose handler runs on this thread: with consumers.defer_handler_publishes, the
// handler's publishes attach to it and its ack waits until their PubAcks are read (the
// consumer's settle()).
struct HandlerScope {
  const JetStreamPublisher *publisher = nullptr; // set: publishes of this publisher are effects
  bool batched = false;          // effects are written with the batch's acks, flushed at its end
  std::vector<uint64_t> effects; // reply tokens (this thread's inbox) of effects awaiting their PubAck
  bool failed = false;           // one could not be sent
  // KeyValue::write_with_effects() continuations, by the token of their write, in call order.
  std::vector<std::pair<uint64_t, KeyValue::Then>> then;
};

// Makes `scope` the delivery handled on this thread for its lifetime (nullptr: none).
class HandlerScopeGuard {
public:
  explicit HandlerScopeGuard(HandlerScope *scope);
  ~HandlerScopeGuard();
  HandlerScopeGuard(const HandlerScopeGuard &) = delete;
  HandlerScopeGuard &operator=(const HandlerScopeGuard &) = delete;
};

class JetStreamPublisher {
public:
  using Clock = JetStreamConnection::Clock;

  // What the stream answered to one publish.
  struct Answer {
    PublishStatus status = PublishStatus::unavailable;
    bool retryable = false; // no stream leader answered: worth resending with the same id
    std::string failure;
  };

  JetStreamPublisher(const JetStreamOptions &options, JetStreamConnection &connection);
  ~JetStreamPublisher();
  JetStreamPublisher(const JetStreamPublisher &) = delete;
  JetStreamPublisher &operator=(const JetStreamPublisher &) = delete;

  // Bus::publish(): awaited, or an effect of the delivery handled on this thread.
  PublishStatus publish(const Message &message, std::chrono::milliseconds timeout);
  // JetStreamKeyValue::write_with_effects(): nullopt outside a deferring handler.
  std::optional<KeyValue::Result> write_effect(const std::string &subject, const std::string &value,
                                               bool only_if_absent, KeyValue::Then then);

  // For the consumers' settle(): the answers to this thread's publishes `tokens` (sorted),
  // indexed by token - tokens.front() (nullopt: none before the deadline), and the release of
  // their in-flight slots once read or given up.
  std::vector<std::optional<Answer>> collect(const std::vector<uint64_t> &tokens, Clock::time_point deadline);
  void release_slots(int count);

  // Lifecycle, from the thread that starts and stops the bus.
  void open(); // start() succeeded: publishes are accepted
  // True when start() never succeeded and nothing is in flight (wait_idle: nothing to wait for).
  bool never_opened() const;
  bool nothing_in_flight() const;
  // Refuses new publishes, waits for the callers still inside to leave, then up to
  // publish_timeout_ms for the PubAcks in flight.
  void close();
  // Destroys every thread's reply inbox (before the connections close).
  void close_inboxes();

private:
  // A publishing thread, counted in callers_ while it may touch the connections (close() waits
  // for none to be left); not admitted once the bus stops accepting.
  class Caller;
  struct ReplyInbox;
  ReplyInbox *thread_inbox();
  // Takes an in-flight slot and sends (true: the caller releases the slot once answered).
  // expect_new: stored only if the subject holds no message (a key-value create); id may be empty.
  bool send(natsConnection *connection, const std::string &subject, const std::string &body,
            const std::string &id, const std::string &corr_id, Clock::time_point deadline, uint64_t &token,
            std::string &failure, bool expect_new = false);
  static Answer read_answer(natsMsg *reply);

  const JetStreamOptions &options_;
  JetStreamConnection &connection_;
  const uint64_t serial_; // tells this bus's thread inboxes from another's (an address may be reused)

  mutable std::mutex publish_mutex_;
  std::condition_variable publish_cv_;
  bool accepting_ = false;
  bool started_ok_ = false; // start() succeeded (connected, stream and consumers in place)
  int callers_ = 0;
  int in_flight_ = 0; // publishes whose PubAck (or failure) has not arrived, up to max_in_flight

  std::mutex inboxes_mutex_;
  std::vector<std::unique_ptr<ReplyInbox>> inboxes_; // one per publishing thread
};

} // namespace th
