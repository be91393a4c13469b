// Consuming on the JetStream bus (the part nats.c keeps in js.c's pull side): one durable pull
// consumer of this process, its own pull requests, its fetch thread, the handler's deliveries
// and their settlement: acked after the handler, after its effects' PubAcks (settled in rounds
// with write_with_effects' continuations), or when its store says (deferred settlement).
// docs/jetstream.md, "Consumers", "Delivery and acks".
//
// Threads: bind() and close() run on the thread that starts and stops the bus; everything
// else runs on this consumer's fetch thread, except a deferred settlement, which acks from
// whichever thread its store reports on (under DeferredAcks::mutex).
// Locks: none of its own. unacked_ is atomic (read by wait_idle()); health_ is guarded by the
// bus's health mutex; the fetch thread's state (requests, inbox) is its alone.
#pragma once

#include "bus/bus.hpp"
#include "bus/jetstream_connection.hpp"
#include "bus/jetstream_publisher.hpp"

#include <nats/nats.h>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace th {

// What deferred deliveries share with the bus: once the bus closes its connections, a late
// settlement does nothing (the message stays unacked and the server delivers it again).
struct DeferredAcks {
  std::mutex mutex;
  bool closed = false;
};

class JetStreamConsumer {
public:
  using Clock = JetStreamConnection::Clock;

  JetStreamConsumer(const JetStreamOptions &options, JetStreamConnection &connection,
                    JetStreamPublisher &publisher, std::shared_ptr<DeferredAcks> deferred,
                    const SubscriptionSpec &spec, Handler handler);
  JetStreamConsumer(const JetStreamConsumer &) = delete;
  JetStreamConsumer &operator=(const JetStreamConsumer &) = delete;

  const SubscriptionSpec &spec() const { return spec_; }
  const std::string &filter() const { return filter_; } // empty = the whole stream

  // Subscribes to the inbox its pull requests reply to (the consumer exists: provisioned).
  void bind();
  void start(); // the fetch thread
  void join();  // after the connection began stopping: the fetch thread settles what it holds
  void close(); // drops the inbox subscription (never the durable consumer)

  // Fetched by this process and not yet acked or nak'd.
  int unacked() const { return unacked_; }
  // Cached consumer counts, refreshed by the bus's health(), under its health mutex.
  ConsumerHealth &health() { return health_; }

private:
  enum class Outcome { settled, awaiting_effects, deferred };
  enum class Acknowledgement { ack, nak_later, term };
  class DeferredSettlement;
  struct PullRequest {
    int remaining = 0;
    Clock::time_point expires_at;
  };

  void fetch_loop();
  std::chrono::milliseconds request_more();
  Outcome deliver(natsMsg *msg, HandlerScope &scope);
  void settle(std::vector<std::pair<natsMsg *, HandlerScope>> &awaiting);
  void acknowledge(natsMsg *msg, Acknowledgement kind);
  void acknowledge_reply(const char *reply, Acknowledgement kind);
  void ack(natsMsg *msg) { acknowledge(msg, Acknowledgement::ack); }

  const JetStreamOptions &options_;
  JetStreamConnection &connection_;
  JetStreamPublisher &publisher_;
  std::shared_ptr<DeferredAcks> deferred_;
  const SubscriptionSpec spec_;
  const Handler handler_;
  const std::string filter_;
  std::array<bool, subject_count> wanted_{};

  // Our own pull requests: each asks for up to fetch_batch messages, replies to
  // "{inbox_prefix}{request id}" and lives at most fetch_wait_ms on the server.
  natsSubscription *sub_ = nullptr; // sync subscription on "{inbox_prefix}*"
  std::string inbox_prefix_;
  std::string next_subject_;                 // $JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}
  std::map<uint64_t, PullRequest> requests_; // open on the server, as far as we know
  uint64_t next_request_ = 0;
  std::thread thread_;
  std::atomic<int> unacked_{0};
  ConsumerHealth health_; // refreshed at most once a second
};

} // namespace th
