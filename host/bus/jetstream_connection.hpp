// The JetStream bus's two connections to the same servers, their JetStream context, and the
// connection state every other part of the bus waits on (docs/jetstream.md, "Two connections").
//
// Lock: state_mutex_ (with state_cv_) guards closed_ and wakes threads waiting for a
// reconnect, for stop() or for cancel_start(). The library's callback threads take it to
// signal a state change; nothing else is done under it.
// Threads: connect() and close() run on the thread that starts and stops the bus; the
// accessors are read by fetch threads and publishing threads between those two calls.
#pragma once

#include "bus/jetstream_options.hpp"

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace th {

// A start() failure worth another attempt (no server yet, a cluster still forming, JetStream not
// ready): start() retries it with backoff until bus.jetstream.start_timeout_ms. Anything else
// (wrong credentials, TLS, a stream or consumer configured otherwise) fails start() at once.
struct TransientStartError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "a, b, c": server lists and problem lists in messages.
std::string join_items(const std::vector<std::string> &items, const char *separator = ", ");

class JetStreamConnection {
public:
  using Clock = std::chrono::steady_clock;

  explicit JetStreamConnection(const JetStreamOptions &options) : options_(options) {}
  JetStreamConnection(const JetStreamConnection &) = delete;
  JetStreamConnection &operator=(const JetStreamConnection &) = delete;

  // Opens both connections and the JetStream context. Throws TransientStartError when the
  // servers cannot be reached (yet), std::runtime_error for anything else.
  void connect();
  // Destroys the context and closes both connections, each waited for until its closed
  // callback ran (its last one: none can reach this object afterwards).
  void close();

  // nc_ writes every operation at once (SendAsap): pull requests, naks and publishes whose
  // caller waits. batch_nc_ lets writes accumulate: acks and the deferred effects of a fetched
  // batch go out together (flushed at the batch end, or by the library's flusher within a
  // millisecond), one write instead of one per message.
  natsConnection *direct() const { return nc_; }
  natsConnection *batching() const { return batch_nc_; }
  jsCtx *js() const { return js_; }

  bool connected() const { return is_connected(nc_) && is_connected(batch_nc_); }
  // Waits until both connections are up (true), the deadline passes or the bus stops (false).
  bool wait_connected(Clock::time_point deadline);
  // Sleeps for `duration`, cut short by stop.
  void pause(std::chrono::milliseconds duration);

  // stop(): waiting threads wake and give up. True only for the first call.
  bool begin_stopping();
  bool stopping() const { return stopping_; }

  // cancel_start(): a start() in progress gives up at its next wait.
  void cancel_start();
  bool start_cancelled() const { return cancel_start_; }
  // Waits `duration` between start attempts; true when cancel_start() came meanwhile.
  bool wait_start_cancelled(std::chrono::milliseconds duration);

private:
  static bool is_connected(natsConnection *nc) {
    return nc && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
  }
  natsOptions *connection_options(bool send_asap, const std::string &name);
  static void disconnected_callback(natsConnection *, void *closure);
  static void reconnected_callback(natsConnection *, void *closure);
  static void closed_callback(natsConnection *, void *closure);

  const JetStreamOptions &options_;
  natsOptions *nats_options_ = nullptr;
  natsOptions *batch_options_ = nullptr;
  natsConnection *nc_ = nullptr;
  natsConnection *batch_nc_ = nullptr;
  jsCtx *js_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cancel_start_{false};

  std::mutex state_mutex_;
  std::condition_variable state_cv_;
  int closed_ = 0; // connections whose closed callback ran (earlier start() attempts included)
};

} // namespace th
