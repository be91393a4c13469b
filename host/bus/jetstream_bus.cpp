// The JetStream bus: the Bus interface over one connection pair (jetstream_connection), the
// stream and consumers it provisions at start (jetstream_provisioning), one Publisher for
// every thread that publishes (jetstream_publisher) and one Consumer, with its fetch thread,
// per subscription (jetstream_consumer). This file holds the lifecycle that ties them: the
// start retries, the stop order, wait_idle() and health().
#include "bus/jetstream_bus.hpp"

#include "bus/jetstream_connection.hpp"
#include "bus/jetstream_consumer.hpp"
#include "bus/jetstream_key_value.hpp"
#include "bus/jetstream_provisioning.hpp"
#include "bus/jetstream_publisher.hpp"

#include "observability/log.hpp"

#include <algorithm>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace th {
namespace {

using Clock = std::chrono::steady_clock;

// A consumer this process creates or checks at start for other processes to read.
struct DeclaredConsumer {
  SubscriptionSpec spec;
  std::string filter;
};

class JetStreamBus final : public Bus {
public:
  explicit JetStreamBus(JetStreamOptions options)
      : options_(std::move(options)), connection_(options_), publisher_(options_, connection_) {}
  ~JetStreamBus() override { stop(); }

  void subscribe(const SubscriptionSpec &spec, Handler handler) override;
  void declare_consumer(const SubscriptionSpec &spec) override;
  void start() override;
  void cancel_start() override { connection_.cancel_start(); }
  PublishStatus publish(const Message &message, std::chrono::milliseconds timeout) override {
    return publisher_.publish(message, timeout);
  }
  bool wait_idle(std::chrono::milliseconds timeout) override;
  void stop() override;
  BusHealth health() const override;
  std::shared_ptr<KeyValue> key_value(const std::string &name, std::chrono::seconds ttl) override;

private:
  void start_once();
  void validate_spec(const SubscriptionSpec &spec) const;
  void close_connection();

  // Declared in this order: each part refers to the ones above it.
  JetStreamOptions options_;
  JetStreamConnection connection_;
  JetStreamPublisher publisher_;
  std::vector<std::unique_ptr<JetStreamConsumer>> consumers_; // one per subscribe()
  std::vector<DeclaredConsumer> declared_;                    // created or checked, read by other processes
  bool started_ = false;

  // Guards the health cache (each consumer's counts and when they were read).
  mutable std::mutex health_mutex_;
  mutable Clock::time_point health_refreshed_{};

  std::shared_ptr<DeferredAcks> deferred_ = std::make_shared<DeferredAcks>();

  std::mutex buckets_mutex_;
  std::vector<std::shared_ptr<JetStreamKeyValue>> buckets_; // bound at start(), unbound at stop
};

void JetStreamBus::validate_spec(const SubscriptionSpec &spec) const {
  if (spec.durable.empty() || spec.durable.find_first_of(". *>/\\\t") != std::string::npos)
    throw std::runtime_error("jetstream bus: durable name '" + spec.durable +
                             "' must be non-empty without '.', '*', '>', '/', '\\' or spaces");
  if (spec.subjects.empty())
    throw std::runtime_error("jetstream bus: durable '" + spec.durable + "' has no subjects");
  auto twice = [&](const std::string &durable) {
    if (durable == spec.durable)
      throw std::runtime_error("jetstream bus: durable '" + spec.durable +
                               "' subscribed or declared twice in one process");
  };
  for (const auto &existing : consumers_)
    twice(existing->spec().durable);
  for (const auto &existing : declared_)
    twice(existing.spec.durable);
}

void JetStreamBus::subscribe(const SubscriptionSpec &spec, Handler handler) {
  if (started_)
    throw std::runtime_error("jetstream bus: subscribe('" + spec.durable + "') after start()");
  validate_spec(spec);
  if (!handler)
    throw std::runtime_error("jetstream bus: durable '" + spec.durable + "' has no handler");
  consumers_.push_back(std::make_unique<JetStreamConsumer>(options_, connection_, publisher_, deferred_, spec,
                                                           std::move(handler)));
}

void JetStreamBus::declare_consumer(const SubscriptionSpec &spec) {
  if (started_)
    throw std::runtime_error("jetstream bus: declare_consumer('" + spec.durable + "') after start()");
  validate_spec(spec);
  declared_.push_back({spec, jetstream_filter_subject(spec.subjects)});
}

void JetStreamBus::start_once() {
  try {
    connection_.connect();
    ensure_stream(connection_.js(), options_);
    for (auto &consumer : consumers_) {
      ensure_consumer(connection_.js(), options_, consumer->spec().durable, consumer->filter());
      consumer->bind();
    }
    for (auto &declared : declared_)
      ensure_consumer(connection_.js(), options_, declared.spec.durable, declared.filter);
    std::lock_guard lock(buckets_mutex_);
    for (auto &bucket : buckets_)
      bucket->bind(connection_.js());
  } catch (...) {
    close_connection();
    throw;
  }
}

void JetStreamBus::start() {
  if (started_)
    throw std::runtime_error("jetstream bus: start() called twice");
  started_ = true;
  // Connecting and creating the stream and consumers are retried with exponential backoff
  // (100 ms doubling to 5 s) until start_timeout_ms: a server started after the host, or a
  // cluster still electing a leader (10005 "no suitable peers for placement"), is waited for.
  const auto begin = Clock::now();
  const auto deadline = begin + std::chrono::milliseconds(options_.start_timeout_ms);
  std::chrono::milliseconds backoff(100);
  for (int attempt = 1;; ++attempt) {
    if (connection_.start_cancelled())
      throw BusStartCancelled("jetstream bus: start interrupted");
    try {
      start_once();
      if (attempt > 1)
        log::info("jetstream.start_succeeded",
                  {{"attempt", attempt},
                   {"after_ms",
                    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin).count()}});
      break;
    } catch (const TransientStartError &e) {
      const auto now = Clock::now();
      auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - begin).count();
      if (connection_.start_cancelled())
        throw BusStartCancelled("jetstream bus: start interrupted");
      if (now >= deadline)
        throw std::runtime_error(std::string(e.what()) + "; gave up after " + std::to_string(attempt) +
                                 " attempt" + (attempt == 1 ? "" : "s") + " in " + std::to_string(elapsed) +
                                 " ms (bus.jetstream.start_timeout_ms " +
                                 std::to_string(options_.start_timeout_ms) + ")");
      auto wait = std::min(backoff, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
      log::warn("jetstream.start_retry",
                {{"attempt", attempt},
                 {"error", e.what()},
                 {"retry_in_ms", wait.count()},
                 {"gives_up_in_ms",
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()}});
      if (connection_.wait_start_cancelled(wait))
        throw BusStartCancelled("jetstream bus: start interrupted");
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
  publisher_.open();
  for (auto &consumer : consumers_)
    consumer->start();
  log::info("jetstream.started",
            {{"servers", options_.servers}, {"stream", options_.stream}, {"consumers", consumers_.size()}});
}

bool JetStreamBus::wait_idle(std::chrono::milliseconds timeout) {
  if (publisher_.never_opened())
    return true; // start() did not succeed: nothing was sent or fetched
  const auto deadline = Clock::now() + timeout;
  int clean_passes = 0;
  while (true) {
    bool clean = publisher_.nothing_in_flight();
    for (auto &consumer : consumers_)
      clean = clean && consumer->unacked() == 0;
    if (clean && !consumers_.empty()) {
      if (!connection_.connected())
        clean = false;
      else {
        natsConnection_FlushTimeout(connection_.batching(),
                                    1000); // our acks reach the server before the queries
        for (auto &consumer : consumers_) {
          const auto counts =
              read_consumer_counts(connection_.js(), options_.stream, consumer->spec().durable, 1000);
          clean = counts && counts->num_pending == 0 && counts->num_ack_pending == 0;
          if (!clean)
            break;
        }
      }
    }
    // Two clean passes: a handler's effect stored after one consumer was checked shows in the next.
    clean_passes = clean ? clean_passes + 1 : 0;
    if (clean_passes >= 2 || (clean && consumers_.empty()))
      return true;
    if (Clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void JetStreamBus::stop() {
  if (!started_ || !connection_.begin_stopping())
    return;
  // Fetching stops; handlers of messages already fetched finish, and may still publish.
  for (auto &consumer : consumers_)
    consumer->join();
  publisher_.close();
  {
    // Deliveries still waiting for their store stay unacked: the server delivers them again.
    std::lock_guard lock(deferred_->mutex);
    deferred_->closed = true;
  }
  if (connection_.connected())
    natsConnection_FlushTimeout(connection_.batching(), 2000); // the last acks
  close_connection();
  log::info("jetstream.stopped", {{"stream", options_.stream}});
}

std::shared_ptr<KeyValue> JetStreamBus::key_value(const std::string &name, std::chrono::seconds ttl) {
  auto bucket = std::make_shared<JetStreamKeyValue>(options_.stream + "_" + name, ttl, options_.replicas);
  bucket->set_effect_writer(
      [this](const std::string &subject, const std::string &value, bool only_if_absent, KeyValue::Then then) {
        return publisher_.write_effect(subject, value, only_if_absent, std::move(then));
      });
  std::lock_guard lock(buckets_mutex_);
  if (connection_.js()) // already started
    bucket->bind(connection_.js());
  buckets_.push_back(bucket);
  return bucket;
}

void JetStreamBus::close_connection() {
  for (auto &consumer : consumers_)
    consumer->close();
  publisher_.close_inboxes();
  {
    std::lock_guard lock(buckets_mutex_);
    for (auto &bucket : buckets_)
      bucket->unbind();
  }
  connection_.close();
}

BusHealth JetStreamBus::health() const {
  BusHealth health;
  const bool up = !connection_.stopping() && connection_.connected();
  health.state = up ? "connected" : "disconnected";
  std::lock_guard lock(health_mutex_);
  const auto now = Clock::now();
  if (now - health_refreshed_ >= std::chrono::seconds(1)) {
    health_refreshed_ = now;
    for (const auto &consumer : consumers_) {
      ConsumerHealth &cached = consumer->health();
      const auto counts =
          up ? read_consumer_counts(connection_.js(), options_.stream, consumer->spec().durable, 500)
             : std::nullopt;
      if (counts) {
        cached.num_pending = counts->num_pending;
        cached.num_waiting = static_cast<uint64_t>(std::max<int64_t>(counts->num_waiting, 0));
        cached.healthy = true;
      } else {
        cached.healthy = false; // keep the last known counts
      }
    }
  }
  for (const auto &consumer : consumers_) {
    ConsumerHealth health_of = consumer->health();
    health_of.healthy = health_of.healthy && up;
    health.consumers.push_back(std::move(health_of));
  }
  return health;
}

} // namespace

std::string jetstream_msg_id(const Message &message) {
  if (!message.msg_id.empty())
    return message.msg_id;
  std::string id = std::string(subject_name(message.subject)) + ":" + corr_id_of(message);
  std::visit(
      [&](const auto &payload) {
        using T = std::decay_t<decltype(payload)>;
        if constexpr (std::is_same_v<T, Fill>)
          id += ":" + payload.fill_id;
        else if constexpr (std::is_same_v<T, Reconcile>)
          id += ":" + payload.reconcile_id;
        else if constexpr (std::is_same_v<T, AuditRecord>)
          id += ":" + payload.event_id;
        else if constexpr (std::is_same_v<T, OrderIntent>)
          id += ":" + payload.agent_id;
        else if constexpr (std::is_same_v<T, Rejection>)
          id += ":" + payload.intent.agent_id;
      },
      message.payload);
  return id;
}

std::string jetstream_filter_subject(const std::vector<Subject> &subjects) {
  std::set<std::string_view> names;
  for (Subject subject : subjects)
    names.insert(subject_name(subject));
  if (names.size() == 1)
    return std::string(*names.begin());
  std::set<std::string_view> first_tokens;
  for (std::string_view name : names)
    first_tokens.insert(name.substr(0, name.find('.')));
  if (first_tokens.size() == 1)
    return std::string(*first_tokens.begin()) + ".>";
  return {};
}

std::unique_ptr<Bus> make_jetstream_bus(const JetStreamOptions &options) {
  // nats.c spins up to 2000 times on a contended mutex before it sleeps; with more busy threads
  // than cores (2 here) the spinning only steals time from the thread holding the lock. The
  // first call in the process decides; later calls are no-ops.
  static const natsStatus opened = nats_Open(0);
  (void)opened;
  return std::make_unique<JetStreamBus>(options);
}

} // namespace th
