#include "bus/jetstream_bus.hpp"

#include "bus/jetstream_key_value.hpp"
#include "bus/nats_status.hpp"

#include "events/json_codec.hpp"
#include "events/json_depth.hpp"
#include "events/json_writer.hpp"
#include "observability/log.hpp"

#include <nats/nats.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace th {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t ns_per_s = 1'000'000'000;

// A start() failure worth another attempt (no server yet, a cluster still forming, JetStream not
// ready): start() retries it with backoff until bus.jetstream.start_timeout_ms. Anything else
// (wrong credentials, TLS, a stream or consumer configured otherwise) fails start() at once.
struct TransientStartError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool transient_connect_failure(natsStatus s) {
  switch (s) {
  case NATS_NO_SERVER:
  case NATS_IO_ERROR:
  case NATS_TIMEOUT:
  case NATS_CONNECTION_CLOSED:
  case NATS_CONNECTION_DISCONNECTED:
  case NATS_STALE_CONNECTION:
  case NATS_NOT_YET_CONNECTED:
    return true;
  default:
    return false;
  }
}

// "JetStream error 10005: no suitable peers for placement" from what the server answered.
std::string js_error(natsStatus status, jsErrCode code) {
  return nats_error(status) + (code ? " (JetStream error " + std::to_string(int(code)) + ")" : "");
}

std::string join(const std::vector<std::string> &items, const char *separator = ", ") {
  std::string out;
  for (const auto &item : items)
    out += (out.empty() ? "" : separator) + item;
  return out;
}

std::vector<std::string> contract_subjects() {
  std::vector<std::string> subjects;
  for (size_t i = 0; i < subject_count; ++i)
    subjects.emplace_back(subject_name(static_cast<Subject>(i)));
  return subjects;
}

struct Subscription {
  SubscriptionSpec spec;
  Handler handler;
  std::string filter; // the consumer's filter subject; empty = the whole stream
  std::array<bool, subject_count> wanted{};
  // Our own pull requests: each asks for up to fetch_batch messages, replies to
  // "{inbox_prefix}{request id}" and lives at most fetch_wait_ms on the server.
  natsSubscription *sub = nullptr; // sync subscription on "{inbox_prefix}*"
  std::string inbox_prefix;
  std::string next_subject; // $JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}
  struct PullRequest {
    int remaining = 0;
    Clock::time_point expires_at;
  };
  std::map<uint64_t, PullRequest> requests; // open on the server, as far as we know
  uint64_t next_request = 0;
  std::thread thread;
  std::atomic<int> unacked{0}; // fetched by this process and not yet acked or nak'd
  ConsumerHealth health;       // cached, refreshed at most once a second
};

// The delivery whose handler runs on this thread: with consumers.defer_handler_publishes, the
// handler's publishes attach to it and its ack waits until their PubAcks are read (settle()).
struct HandlerScope {
  const void *bus = nullptr;
  bool batched = false;          // effects are written with the batch's acks, flushed at its end
  std::vector<uint64_t> effects; // reply tokens (this thread's inbox) of effects awaiting their PubAck
  bool failed = false;           // one could not be sent
  // KeyValue::write_with_effects() continuations, by the token of their write, in call order.
  std::vector<std::pair<uint64_t, KeyValue::Then>> then;
};

// What deferred deliveries share with the bus: once the bus closes its connections, a late
// settlement does nothing (the message stays unacked and the server delivers it again).
struct DeferredAcks {
  std::mutex mutex;
  bool closed = false;
};

// Where PubAcks come back to one thread: a sync subscription on "{prefix}*", each publish
// replying to "{prefix}{token}". The library's reader thread hands a PubAck straight to the
// waiting thread (no dispatcher thread, no shared table of pending publishes).
struct ReplyInbox {
  natsSubscription *sub = nullptr;
  std::string prefix;
  uint64_t next_token = 0;
};

std::atomic<uint64_t> bus_serials{0};
thread_local HandlerScope *current_handler_scope = nullptr;

class JetStreamBus final : public Bus {
public:
  explicit JetStreamBus(JetStreamOptions options) : options_(std::move(options)) {}
  ~JetStreamBus() override { stop(); }

  void subscribe(const SubscriptionSpec &spec, Handler handler) override;
  void declare_consumer(const SubscriptionSpec &spec) override;
  void start() override;
  void cancel_start() override;
  PublishStatus publish(const Message &message, std::chrono::milliseconds timeout) override;
  bool wait_idle(std::chrono::milliseconds timeout) override;
  void stop() override;
  BusHealth health() const override;
  std::shared_ptr<KeyValue> key_value(const std::string &name, std::chrono::seconds ttl) override;

private:
  void start_once();
  jsOptions start_request_options() const;
  void connect();
  void ensure_stream();
  void ensure_consumer(Subscription &subscription);
  void validate_spec(const SubscriptionSpec &spec) const;
  void bind(Subscription &subscription);
  void fetch_loop(Subscription &subscription);
  std::chrono::milliseconds request_more(Subscription &subscription);
  enum class Outcome { settled, awaiting_effects, deferred };
  Outcome deliver(Subscription &subscription, natsMsg *msg, HandlerScope &scope);
  void settle(Subscription &subscription, std::vector<std::pair<natsMsg *, HandlerScope>> &awaiting);
  enum class Acknowledgement { ack, nak_later, term };
  void acknowledge(natsMsg *msg, Acknowledgement kind);
  void acknowledge_reply(const char *reply, Acknowledgement kind);
  class DeferredSettlement;
  void ack(natsMsg *msg) { acknowledge(msg, Acknowledgement::ack); }
  natsOptions *connection_options(bool send_asap, const std::string &name);
  void close_connection();
  static bool is_connected(natsConnection *nc) {
    return nc && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
  }
  bool connected() const { return is_connected(nc_) && is_connected(batch_nc_); }
  bool wait_connected(Clock::time_point deadline);
  void pause(std::chrono::milliseconds duration);

  // What the stream answered to one publish.
  struct Answer {
    PublishStatus status = PublishStatus::unavailable;
    bool retryable = false; // no stream leader answered: worth resending with the same id
    std::string failure;
  };
  ReplyInbox *thread_inbox();
  // Takes an in-flight slot and sends (true: the caller releases the slot once answered).
  // expect_new: stored only if the subject holds no message (a key-value create); id may be empty.
  bool send(natsConnection *connection, const std::string &subject, const std::string &body,
            const std::string &id, const std::string &corr_id, Clock::time_point deadline, uint64_t &token,
            std::string &failure, bool expect_new = false);
  // JetStreamKeyValue::write_with_effects() on this bus.
  std::optional<KeyValue::Result> write_effect(const std::string &subject, const std::string &value,
                                               bool only_if_absent, KeyValue::Then then);
  // The answers to this thread's publishes `tokens` (sorted), indexed by token - tokens.front()
  // (nullopt: none before the deadline).
  std::vector<std::optional<Answer>> collect(const std::vector<uint64_t> &tokens, Clock::time_point deadline);
  static Answer read_answer(natsMsg *reply);
  void release_slots(int count);

  static void disconnected_callback(natsConnection *, void *closure);
  static void reconnected_callback(natsConnection *, void *closure);
  static void closed_callback(natsConnection *, void *closure);

  JetStreamOptions options_;
  std::vector<std::unique_ptr<Subscription>> subscriptions_;
  std::vector<std::unique_ptr<Subscription>> declared_; // created or checked, read by other processes
  // Two connections to the same servers. nc_ writes every operation at once (SendAsap): pull
  // requests and publishes whose caller waits. batch_nc_ lets writes accumulate: acks and the
  // deferred effects of a fetched batch go out together (flushed at the batch end, or by the
  // library's flusher within a millisecond), one write instead of one per message.
  natsOptions *nats_options_ = nullptr;
  natsOptions *batch_options_ = nullptr;
  natsConnection *nc_ = nullptr;
  natsConnection *batch_nc_ = nullptr;
  jsCtx *js_ = nullptr;
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cancel_start_{false}; // cancel_start(): a start() in progress gives up

  // Connection state changes (from the library's callback thread) wake waiting threads.
  std::mutex state_mutex_;
  std::condition_variable state_cv_;
  int closed_ = 0; // connections whose closed callback ran

  // Publishing: callers_ counts threads that may still touch js_; in_flight_ counts publishes
  // whose PubAck (or failure) has not arrived, bounded by max_in_flight.
  std::mutex publish_mutex_;
  std::condition_variable publish_cv_;
  bool accepting_ = false;
  bool started_ok_ = false; // start() succeeded (connected, stream and consumers in place)
  int callers_ = 0;
  // A publishing thread, counted in callers_ while it may touch the connections (stop() waits
  // for none to be left); not admitted once the bus stops accepting.
  class Caller {
  public:
    explicit Caller(JetStreamBus &bus) : bus_(bus) {
      std::lock_guard lock(bus.publish_mutex_);
      if ((admitted_ = bus.accepting_))
        ++bus.callers_;
    }
    ~Caller() {
      if (!admitted_)
        return;
      std::lock_guard lock(bus_.publish_mutex_);
      --bus_.callers_;
      bus_.publish_cv_.notify_all();
    }
    Caller(const Caller &) = delete;
    Caller &operator=(const Caller &) = delete;
    bool admitted() const { return admitted_; }

  private:
    JetStreamBus &bus_;
    bool admitted_ = false;
  };
  int in_flight_ = 0;
  const uint64_t serial_ = ++bus_serials;
  std::mutex inboxes_mutex_;
  std::vector<std::unique_ptr<ReplyInbox>> inboxes_; // one per publishing thread

  mutable std::mutex health_mutex_;
  mutable Clock::time_point health_refreshed_{};

  std::shared_ptr<DeferredAcks> deferred_ = std::make_shared<DeferredAcks>();

  std::mutex buckets_mutex_;
  std::vector<std::shared_ptr<JetStreamKeyValue>> buckets_; // bound at start(), unbound at stop
};

// A delivery whose handler stores it asynchronously (the audit stage, acking only what every
// sink has committed): acked or nak'd when the store says, from whichever thread says it.
class JetStreamBus::DeferredSettlement final : public Settlement {
public:
  DeferredSettlement(JetStreamBus &bus, Subscription &subscription, const char *reply)
      : bus_(bus), subscription_(subscription), shared_(bus.deferred_), reply_(reply ? reply : "") {}
  ~DeferredSettlement() override { stored(false); }
  void stored(bool ok) override {
    std::lock_guard lock(shared_->mutex);
    if (settled_)
      return;
    settled_ = true;
    if (shared_->closed) // the bus is gone: the server redelivers it after ack_wait
      return;
    if (!ok)
      log::warn("jetstream.store_failed", {{"durable", subscription_.spec.durable},
                                           {"effect", "the message is redelivered and stored again"}});
    bus_.acknowledge_reply(reply_.c_str(), ok ? Acknowledgement::ack : Acknowledgement::nak_later);
    --subscription_.unacked;
  }

private:
  JetStreamBus &bus_;
  Subscription &subscription_;
  std::shared_ptr<DeferredAcks> shared_;
  std::string reply_;
  bool settled_ = false;
};

void JetStreamBus::validate_spec(const SubscriptionSpec &spec) const {
  if (spec.durable.empty() || spec.durable.find_first_of(". *>/\\\t") != std::string::npos)
    throw std::runtime_error("jetstream bus: durable name '" + spec.durable +
                             "' must be non-empty without '.', '*', '>', '/', '\\' or spaces");
  if (spec.subjects.empty())
    throw std::runtime_error("jetstream bus: durable '" + spec.durable + "' has no subjects");
  for (const auto *list : {&subscriptions_, &declared_})
    for (const auto &existing : *list)
      if (existing->spec.durable == spec.durable)
        throw std::runtime_error("jetstream bus: durable '" + spec.durable +
                                 "' subscribed or declared twice in one process");
}

void JetStreamBus::subscribe(const SubscriptionSpec &spec, Handler handler) {
  if (started_)
    throw std::runtime_error("jetstream bus: subscribe('" + spec.durable + "') after start()");
  validate_spec(spec);
  if (!handler)
    throw std::runtime_error("jetstream bus: durable '" + spec.durable + "' has no handler");
  auto subscription = std::make_unique<Subscription>();
  subscription->spec = spec;
  subscription->handler = std::move(handler);
  subscription->filter = jetstream_filter_subject(subscription->spec.subjects);
  for (Subject subject : spec.subjects)
    subscription->wanted[static_cast<size_t>(subject)] = true;
  subscription->health.durable = spec.durable;
  std::vector<std::string> names;
  for (Subject subject : spec.subjects)
    names.emplace_back(subject_name(subject));
  subscription->health.filter_subject =
      subscription->filter.empty() ? join(names, ",") : subscription->filter;
  subscription->health.healthy = false;
  subscriptions_.push_back(std::move(subscription));
}

void JetStreamBus::declare_consumer(const SubscriptionSpec &spec) {
  if (started_)
    throw std::runtime_error("jetstream bus: declare_consumer('" + spec.durable + "') after start()");
  validate_spec(spec);
  auto declared = std::make_unique<Subscription>();
  declared->spec = spec;
  declared->filter = jetstream_filter_subject(spec.subjects);
  declared_.push_back(std::move(declared));
}

void JetStreamBus::start_once() {
  try {
    connect();
    ensure_stream();
    for (auto &subscription : subscriptions_) {
      ensure_consumer(*subscription);
      bind(*subscription);
    }
    for (auto &declared : declared_)
      ensure_consumer(*declared);
    std::lock_guard lock(buckets_mutex_);
    for (auto &bucket : buckets_)
      bucket->bind(js_);
  } catch (...) {
    close_connection();
    throw;
  }
}

void JetStreamBus::cancel_start() {
  cancel_start_ = true;
  std::lock_guard lock(state_mutex_);
  state_cv_.notify_all();
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
    if (cancel_start_)
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
      if (cancel_start_)
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
      {
        std::unique_lock lock(state_mutex_);
        if (state_cv_.wait_for(lock, wait, [&] { return cancel_start_.load(); }))
          throw BusStartCancelled("jetstream bus: start interrupted");
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
  {
    std::lock_guard lock(publish_mutex_);
    accepting_ = true;
    started_ok_ = true;
  }
  for (auto &subscription : subscriptions_)
    subscription->thread = std::thread([this, s = subscription.get()] {
      ::pthread_setname_np(::pthread_self(), ("js:" + s->spec.durable).substr(0, 15).c_str());
      fetch_loop(*s);
    });
  log::info(
      "jetstream.started",
      {{"servers", options_.servers}, {"stream", options_.stream}, {"consumers", subscriptions_.size()}});
}

natsOptions *JetStreamBus::connection_options(bool send_asap, const std::string &name) {
  natsOptions *opts = nullptr;
  auto check = [&](natsStatus s, const char *what) {
    if (s != NATS_OK) {
      natsOptions_Destroy(opts);
      throw std::runtime_error(std::string("jetstream bus: ") + what + ": " + nats_error(s));
    }
  };
  check(natsOptions_Create(&opts), "cannot create connection options");
  std::vector<const char *> urls;
  for (const auto &url : options_.servers)
    urls.push_back(url.c_str());
  check(natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size())), "bad servers");
  check(natsOptions_SetName(opts, name.c_str()), "bad connection_name");
  check(natsOptions_SetTimeout(opts, options_.connect_timeout_ms), "bad connect_timeout_ms");
  check(natsOptions_SetAllowReconnect(opts, true), "reconnect");
  check(natsOptions_SetMaxReconnect(opts, -1), "reconnect"); // never give up
  check(natsOptions_SetReconnectWait(opts, options_.reconnect_wait_ms), "bad reconnect_wait_ms");
  check(natsOptions_SetReconnectBufSize(opts, options_.reconnect_buffer_bytes), "bad reconnect_buffer_bytes");
  check(natsOptions_SetSendAsap(opts, send_asap), "send asap");
  check(natsOptions_SetDisconnectedCB(opts, &disconnected_callback, this), "callbacks");
  check(natsOptions_SetReconnectedCB(opts, &reconnected_callback, this), "callbacks");
  check(natsOptions_SetClosedCB(opts, &closed_callback, this), "callbacks");
  if (!options_.creds_file.empty())
    check(natsOptions_SetUserCredentialsFromFiles(opts, options_.creds_file.c_str(), nullptr),
          ("cannot use creds_file " + options_.creds_file).c_str());
  if (!options_.nkey_file.empty())
    check(natsOptions_SetNKeyFromSeed(opts, options_.nkey.c_str(), options_.nkey_file.c_str()),
          ("cannot use nkey_file " + options_.nkey_file).c_str());
  if (!options_.user.empty())
    check(natsOptions_SetUserInfo(opts, options_.user.c_str(), options_.password.c_str()), "cannot set user");
  if (options_.tls.enabled()) {
    check(natsOptions_SetSecure(opts, true), "cannot enable TLS");
    if (!options_.tls.ca_file.empty())
      check(natsOptions_LoadCATrustedCertificates(opts, options_.tls.ca_file.c_str()),
            ("cannot load tls.ca_file " + options_.tls.ca_file).c_str());
    if (!options_.tls.cert_file.empty())
      check(natsOptions_LoadCertificatesChain(opts, options_.tls.cert_file.c_str(),
                                              options_.tls.key_file.c_str()),
            ("cannot load tls.cert_file/key_file " + options_.tls.cert_file).c_str());
  }
  return opts;
}

void JetStreamBus::connect() {
  auto check = [&](natsStatus s, const char *what) {
    if (s != NATS_OK)
      throw std::runtime_error(std::string("jetstream bus: ") + what + ": " + nats_error(s));
  };
  nats_options_ = connection_options(true, options_.connection_name);
  batch_options_ = connection_options(false, options_.connection_name + "-batch");
  for (auto [connection, opts] : {std::pair{&nc_, nats_options_}, std::pair{&batch_nc_, batch_options_}}) {
    natsStatus status = natsConnection_Connect(connection, opts);
    if (status != NATS_OK) {
      *connection = nullptr;
      std::string what =
          "jetstream bus: cannot connect to " + join(options_.servers) + ": " + nats_error(status);
      if (transient_connect_failure(status))
        throw TransientStartError(what);
      throw std::runtime_error(what);
    }
  }

  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = std::max(options_.publish_timeout_ms, 2000);
  check(natsConnection_JetStream(&js_, nc_, &js_options), "cannot create a JetStream context");
}

// Start-up requests wait at most connect_timeout_ms (not publish_timeout_ms): a cluster without
// a meta leader does not answer, and the next attempt (or a SIGTERM) comes sooner.
jsOptions JetStreamBus::start_request_options() const {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = options_.connect_timeout_ms;
  return o;
}

void JetStreamBus::ensure_stream() {
  jsOptions start_js = start_request_options();
  const std::vector<std::string> wanted = contract_subjects();
  jsStreamInfo *info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  std::string add_failure; // what the server answered to STREAM.CREATE, when it refused
  natsStatus status = js_GetStreamInfo(&info, js_, options_.stream.c_str(), &start_js, &code);
  if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
    std::vector<const char *> subjects;
    subjects.reserve(wanted.size());
    for (const auto &s : wanted)
      subjects.push_back(s.c_str());
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = options_.stream.c_str();
    config.Subjects = subjects.data();
    config.SubjectsLen = static_cast<int>(subjects.size());
    config.Storage = js_FileStorage;
    config.Duplicates = int64_t(options_.duplicate_window_s) * ns_per_s;
    config.Replicas = options_.replicas;
    status = js_AddStream(&info, js_, &config, &start_js, &code);
    add_failure = js_error(status, code);
    if (status == NATS_OK) {
      log::info("jetstream.stream_created", {{"stream", options_.stream},
                                             {"subjects", wanted},
                                             {"duplicate_window_s", options_.duplicate_window_s},
                                             {"replicas", options_.replicas}});
      jsStreamInfo_Destroy(info);
      return;
    }
    // Another process may have created it meanwhile: check what is there now.
    info = nullptr;
    code = static_cast<jsErrCode>(0);
    status = js_GetStreamInfo(&info, js_, options_.stream.c_str(), &start_js, &code);
  }
  // The server's own answer (e.g. 10005 "no suitable peers for placement" while a cluster forms):
  // the create's failure when it was refused, not the follow-up read's "stream not found".
  if (status != NATS_OK)
    throw TransientStartError("jetstream bus: cannot create or read stream '" + options_.stream + "' on " +
                              join(options_.servers) + ": " +
                              (add_failure.empty() ? js_error(status, code) : add_failure));

  std::set<std::string> existing;
  for (int i = 0; i < info->Config->SubjectsLen; ++i)
    existing.insert(info->Config->Subjects[i]);
  std::vector<std::string> problems, notes;
  std::vector<std::string> missing;
  for (const auto &s : wanted)
    if (!existing.count(s))
      missing.push_back(s);
  if (!missing.empty())
    problems.push_back("subjects lack " + join(missing));
  if (info->Config->Storage != js_FileStorage)
    problems.push_back("storage is memory (the deployment needs file)");
  for (const auto &s : existing)
    if (std::find(wanted.begin(), wanted.end(), s) == wanted.end())
      notes.push_back("extra subject " + s);
  int64_t window_s = info->Config->Duplicates / ns_per_s;
  if (window_s != options_.duplicate_window_s)
    notes.push_back("duplicate window " + std::to_string(window_s) + " s (deployment says " +
                    std::to_string(options_.duplicate_window_s) + " s)");
  jsStreamInfo_Destroy(info);
  if (!notes.empty())
    log::warn("jetstream.stream_differs",
              {{"stream", options_.stream}, {"differences", notes}, {"changed", false}});
  if (!problems.empty())
    throw std::runtime_error("jetstream bus: stream '" + options_.stream +
                             "' exists with another configuration (" + join(problems, "; ") +
                             "); it was not changed: fix or delete it (nats stream rm " + options_.stream +
                             ") or point bus.jetstream.stream elsewhere");
}

void JetStreamBus::ensure_consumer(Subscription &subscription) {
  jsOptions start_js = start_request_options();
  const std::string &durable = subscription.spec.durable;
  const int64_t ack_wait = int64_t(options_.consumers.ack_wait_s) * ns_per_s;
  jsConsumerInfo *info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  std::string add_failure; // what the server answered to CONSUMER.CREATE, when it refused
  natsStatus status =
      js_GetConsumerInfo(&info, js_, options_.stream.c_str(), durable.c_str(), &start_js, &code);
  if (status == NATS_NOT_FOUND || code == JSConsumerNotFoundErr) {
    jsConsumerConfig config;
    jsConsumerConfig_Init(&config);
    config.Durable = durable.c_str();
    config.AckPolicy = js_AckExplicit;
    config.AckWait = ack_wait;
    config.MaxDeliver = options_.consumers.max_deliver;
    config.DeliverPolicy = js_DeliverAll;
    config.FilterSubject = subscription.filter.empty() ? nullptr : subscription.filter.c_str();
    status = js_AddConsumer(&info, js_, options_.stream.c_str(), &config, &start_js, &code);
    add_failure = js_error(status, code);
    if (status == NATS_OK) {
      log::info("jetstream.consumer_created", {{"stream", options_.stream},
                                               {"durable", durable},
                                               {"filter_subject", subscription.filter},
                                               {"ack_wait_s", options_.consumers.ack_wait_s},
                                               {"max_deliver", options_.consumers.max_deliver}});
      jsConsumerInfo_Destroy(info);
      return;
    }
    info = nullptr;
    code = static_cast<jsErrCode>(0);
    status = js_GetConsumerInfo(&info, js_, options_.stream.c_str(), durable.c_str(), &start_js, &code);
  }
  if (status != NATS_OK)
    throw TransientStartError("jetstream bus: cannot create or read consumer '" + durable + "' of stream '" +
                              options_.stream +
                              "': " + (add_failure.empty() ? js_error(status, code) : add_failure));

  const jsConsumerConfig &have = *info->Config;
  std::vector<std::string> problems;
  const std::string have_filter = have.FilterSubject ? have.FilterSubject : "";
  if (have_filter != subscription.filter)
    problems.push_back("filter_subject '" + have_filter + "' (deployment needs '" + subscription.filter +
                       "')");
  if (have.DeliverSubject && *have.DeliverSubject)
    problems.push_back("it is a push consumer (deliver subject '" + std::string(have.DeliverSubject) +
                       "'; deployment needs a pull consumer)");
  if (have.AckPolicy != js_AckExplicit)
    problems.push_back("ack policy is not explicit");
  if (have.AckWait != ack_wait)
    problems.push_back("ack_wait " + std::to_string(have.AckWait / ns_per_s) + " s (deployment says " +
                       std::to_string(options_.consumers.ack_wait_s) + " s)");
  if (have.MaxDeliver != options_.consumers.max_deliver)
    problems.push_back("max_deliver " + std::to_string(have.MaxDeliver) + " (deployment says " +
                       std::to_string(options_.consumers.max_deliver) + ")");
  jsConsumerInfo_Destroy(info);
  if (!problems.empty())
    throw std::runtime_error("jetstream bus: consumer '" + durable + "' of stream '" + options_.stream +
                             "' exists with another configuration: " + join(problems, "; ") +
                             "; it was not changed: delete it (nats consumer rm " + options_.stream + " " +
                             durable + ") or align bus.jetstream.consumers");
}

void JetStreamBus::bind(Subscription &subscription) {
  // The consumer was created or checked by ensure_consumer(): pull from it directly.
  subscription.next_subject =
      "$JS.API.CONSUMER.MSG.NEXT." + options_.stream + "." + subscription.spec.durable;
  natsInbox *inbox = nullptr;
  natsStatus status = natsInbox_Create(&inbox);
  if (status == NATS_OK) {
    subscription.inbox_prefix = std::string(inbox) + ".";
    natsInbox_Destroy(inbox);
    status = natsConnection_SubscribeSync(&subscription.sub, nc_, (subscription.inbox_prefix + "*").c_str());
  }
  if (status == NATS_OK) // what we asked for is never dropped by the library
    status = natsSubscription_SetPendingLimits(subscription.sub, -1, -1);
  if (status != NATS_OK)
    throw TransientStartError("jetstream bus: cannot subscribe for the messages of consumer '" +
                              subscription.spec.durable + "': " + nats_error(status));
}

bool JetStreamBus::wait_connected(Clock::time_point deadline) {
  std::unique_lock lock(state_mutex_);
  while (true) {
    if (connected())
      return true;
    auto now = Clock::now();
    if (now >= deadline || stopping_)
      return false;
    // Callbacks notify; the short poll covers a notification racing with this check.
    state_cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(50)));
  }
}

void JetStreamBus::pause(std::chrono::milliseconds duration) {
  std::unique_lock lock(state_mutex_);
  state_cv_.wait_for(lock, duration, [&] { return stopping_.load(); });
}

PublishStatus JetStreamBus::publish(const Message &message, std::chrono::milliseconds timeout) {
  // publish_timeout_ms bounds every publish, whatever the caller allows.
  const auto deadline =
      Clock::now() + std::min(timeout, std::chrono::milliseconds(options_.publish_timeout_ms));
  Caller caller(*this);
  if (!caller.admitted())
    return PublishStatus::unavailable;
  const std::string subject(subject_name(message.subject));
  // The contract JSON written straight into this thread's buffer (no JSON tree per publish).
  thread_local std::string body;
  write_json(message.payload, body);
  const std::string id = jetstream_msg_id(message);
  const std::string &corr_id = corr_id_of(message);

  if (HandlerScope *scope = current_handler_scope; scope && scope->bus == this) {
    // Deferred (only set up with defer_handler_publishes): "ok" means sent; the delivery being
    // handled is acked only once this PubAck arrives, else it is nak'd and comes again.
    std::string failure;
    uint64_t token = 0;
    if (!send(scope->batched ? batch_nc_ : nc_, subject, body, id, corr_id, deadline, token, failure)) {
      scope->failed = true;
      log::warn("jetstream.publish_unavailable", {{"subject", subject}, {"msg_id", id}, {"reason", failure}},
                corr_id);
      return PublishStatus::unavailable;
    }
    scope->effects.push_back(token); // settle() releases its in-flight slot
    return PublishStatus::ok;
  }

  Answer answer;
  // Resending with the same Nats-Msg-Id is safe: the server stores the message at most once.
  // "No responders" (no stream leader, e.g. during a cluster election) is retried until the deadline.
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0)
      pause(std::chrono::milliseconds(20));
    uint64_t token = 0;
    answer = Answer{};
    if (send(nc_, subject, body, id, corr_id, deadline, token, answer.failure)) {
      std::vector<std::optional<Answer>> answers = collect({token}, deadline);
      release_slots(1);
      if (answers[0])
        answer = *answers[0];
      else
        answer.failure = "no PubAck before the deadline";
    }
    if (!answer.retryable || Clock::now() >= deadline || stopping_)
      break;
  }
  if (answer.status == PublishStatus::unavailable)
    log::warn(
        "jetstream.publish_unavailable",
        {{"subject", subject}, {"msg_id", id}, {"reason", answer.failure}, {"timeout_ms", timeout.count()}},
        corr_id);
  return answer.status;
}

ReplyInbox *JetStreamBus::thread_inbox() {
  // One inbox per thread and bus, keyed by the bus's serial number (an address may be reused).
  thread_local std::unordered_map<uint64_t, ReplyInbox *> inboxes;
  if (auto it = inboxes.find(serial_); it != inboxes.end())
    return it->second;
  auto inbox = std::make_unique<ReplyInbox>();
  natsInbox *name = nullptr;
  natsStatus status = natsInbox_Create(&name);
  if (status == NATS_OK) {
    inbox->prefix = std::string(name) + ".";
    natsInbox_Destroy(name);
    status = natsConnection_SubscribeSync(&inbox->sub, nc_, (inbox->prefix + "*").c_str());
  }
  if (status == NATS_OK) // never drop a PubAck
    status = natsSubscription_SetPendingLimits(inbox->sub, -1, -1);
  // The server must know the subscription before an answer comes: a publish on the batching
  // connection could otherwise overtake it and its PubAck go nowhere.
  if (status == NATS_OK)
    status = natsConnection_FlushTimeout(nc_, std::max(options_.publish_timeout_ms, 1000));
  if (status != NATS_OK) {
    if (inbox->sub)
      natsSubscription_Destroy(inbox->sub);
    log::warn("jetstream.inbox_failed", {{"reason", nats_error(status)}});
    return nullptr;
  }
  ReplyInbox *raw = inbox.get();
  {
    std::lock_guard lock(inboxes_mutex_);
    inboxes_.push_back(std::move(inbox));
  }
  inboxes.emplace(serial_, raw);
  return raw;
}

bool JetStreamBus::send(natsConnection *connection, const std::string &subject, const std::string &body,
                        const std::string &id, const std::string &corr_id, Clock::time_point deadline,
                        uint64_t &token, std::string &failure, bool expect_new) {
  {
    // Bounded in-flight publishes: wait for room until the deadline.
    std::unique_lock lock(publish_mutex_);
    if (!publish_cv_.wait_until(lock, deadline,
                                [&] { return !accepting_ || in_flight_ < options_.max_in_flight; }) ||
        !accepting_) {
      failure = "no room among max_in_flight publishes";
      return false;
    }
    ++in_flight_;
  }
  // Never queue into the reconnect buffer: a publish made while disconnected could be stored
  // after this call has already answered "unavailable".
  ReplyInbox *inbox = nullptr;
  if (!wait_connected(deadline)) {
    failure = "disconnected";
  } else if (!(inbox = thread_inbox())) {
    failure = "cannot subscribe to PubAcks";
  } else {
    token = ++inbox->next_token;
    const std::string reply = inbox->prefix + std::to_string(token);
    natsMsg *msg = nullptr;
    natsStatus status =
        natsMsg_Create(&msg, subject.c_str(), reply.c_str(), body.data(), static_cast<int>(body.size()));
    if (status == NATS_OK && !id.empty())
      status = natsMsgHeader_Set(msg, "Nats-Msg-Id", id.c_str());
    if (status == NATS_OK && expect_new)
      status = natsMsgHeader_Set(msg, "Nats-Expected-Last-Subject-Sequence", "0");
    if (status == NATS_OK && !corr_id.empty())
      status = natsMsgHeader_Set(msg, "Corr-Id", corr_id.c_str());
    // A publish with a reply subject on a stream's subject is a JetStream publish: the stream
    // answers on the reply subject with a PubAck (or an error, or "no responders").
    if (status == NATS_OK)
      status = natsConnection_PublishMsg(connection, msg);
    natsMsg_Destroy(msg);
    if (status == NATS_OK)
      return true;
    failure = nats_error(status);
  }
  release_slots(1);
  return false;
}

std::vector<std::optional<JetStreamBus::Answer>> JetStreamBus::collect(const std::vector<uint64_t> &tokens,
                                                                       Clock::time_point deadline) {
  if (tokens.empty())
    return {};
  const uint64_t first = tokens.front(), last = tokens.back();
  std::vector<std::optional<Answer>> answers(last - first + 1);
  std::vector<bool> wanted(answers.size());
  for (uint64_t token : tokens)
    wanted[token - first] = true;
  ReplyInbox *inbox = thread_inbox();
  if (!inbox)
    return answers;
  size_t answered = 0;
  while (answered < tokens.size()) {
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (remaining <= 0)
      break;
    natsMsg *reply = nullptr;
    if (natsSubscription_NextMsg(&reply, inbox->sub, remaining) != NATS_OK)
      break;
    const char *reply_subject = natsMsg_GetSubject(reply);
    const size_t skip = std::min(inbox->prefix.size(), std::strlen(reply_subject));
    const uint64_t token = std::strtoull(reply_subject + skip, nullptr, 10);
    if (token >= first && token <= last && wanted[token - first] && !answers[token - first]) {
      answers[token - first] = read_answer(reply);
      ++answered;
    } // else the late answer to a publish already given up
    natsMsg_Destroy(reply);
  }
  return answers;
}

JetStreamBus::Answer JetStreamBus::read_answer(natsMsg *reply) {
  Answer answer;
  const int length = natsMsg_GetDataLength(reply);
  const std::string_view body(natsMsg_GetData(reply), static_cast<size_t>(std::max(length, 0)));
  const char *status = nullptr;
  if (body.empty() && natsMsgHeader_Get(reply, "Status", &status) == NATS_OK) {
    // 503: no stream answered (no leader now, e.g. during an election): worth resending.
    answer.retryable = std::string_view(status).substr(0, 3) == "503";
    answer.failure = std::string("no stream answered (status ") + status + ")";
    return answer;
  }
  // {"stream":"TRADING","seq":12[,"duplicate":true]} or {"error":{"code":..,"err_code":..,"description":..}}
  try {
    auto json = nlohmann::json::parse(body);
    if (auto error = json.find("error"); error != json.end()) {
      if (error->value("err_code", 0) == 10071) { // wrong last sequence: the key holds a record
        answer.status = PublishStatus::duplicate;
        return answer;
      }
      answer.failure = error->value("description", std::string("error")) + " (JetStream error " +
                       std::to_string(error->value("err_code", 0)) + ")";
      return answer;
    }
    answer.status = json.value("duplicate", false) ? PublishStatus::duplicate : PublishStatus::ok;
  } catch (const std::exception &e) {
    answer.failure = std::string("unreadable PubAck: ") + e.what();
  }
  return answer;
}

void JetStreamBus::release_slots(int count) {
  std::lock_guard lock(publish_mutex_);
  in_flight_ -= count;
  publish_cv_.notify_all();
}

void JetStreamBus::acknowledge(natsMsg *msg, Acknowledgement kind) {
  acknowledge_reply(natsMsg_GetReply(msg), kind);
}

void JetStreamBus::acknowledge_reply(const char *reply, Acknowledgement kind) {
  // The delivery's reply subject takes the acknowledgement. Acks use the batching connection
  // (a batch's acks leave in one write); the rare naks and terms leave at once.
  static constexpr std::string_view nak_later = "-NAK {\"delay\":1000000000}"; // retry in 1 s
  const std::string_view body = kind == Acknowledgement::ack         ? std::string_view("+ACK")
                                : kind == Acknowledgement::nak_later ? nak_later
                                                                     : std::string_view("+TERM");
  natsStatus status = reply && *reply
                          ? natsConnection_Publish(kind == Acknowledgement::ack ? batch_nc_ : nc_, reply,
                                                   body.data(), static_cast<int>(body.size()))
                          : NATS_ERR;
  if (status != NATS_OK)
    log::warn("jetstream.ack_failed",
              {{"acknowledgement", body},
               {"reason", nats_error(status)},
               {"effect", "redelivered after ack_wait; its effects are de-duplicated"}});
}

// Keeps pull requests open so that messages flow without a round trip each: a new request for
// fetch_batch messages goes out whenever what the live ones may still bring falls to half a
// batch. A request lives fetch_wait_ms on the server (then ends with a 408 status, or silently
// once partly served); it counts as live only until a quarter of that before its end, so its
// successor is open before it ends. Returns how long to wait for messages before renewing.
std::chrono::milliseconds JetStreamBus::request_more(Subscription &subscription) {
  const auto now = Clock::now();
  const auto lifetime = std::chrono::milliseconds(options_.consumers.fetch_wait_ms);
  const auto renew_before = lifetime / 4;
  const int batch = options_.consumers.fetch_batch;
  // fetch_batch 1 means one message at a time (strict sharing between processes of a durable):
  // no overlapping requests; one ends when served, on its 408, or a grace period after expiry.
  const bool one_at_a_time = batch == 1;
  const auto end_of = [&](const Subscription::PullRequest &request) {
    return one_at_a_time ? request.expires_at + std::chrono::seconds(1) : request.expires_at;
  };
  const auto renew_at = [&](const Subscription::PullRequest &request) {
    return one_at_a_time ? end_of(request) : request.expires_at - renew_before;
  };
  int credit = 0;
  auto renewal = now + lifetime;
  for (auto it = subscription.requests.begin(); it != subscription.requests.end();) {
    if (now >= end_of(it->second)) {
      it = subscription.requests.erase(it);
      continue;
    }
    if (now < renew_at(it->second)) {
      credit += it->second.remaining;
      renewal = std::min(renewal, renew_at(it->second));
    }
    ++it;
  }
  if (credit <= batch / 2 || (!one_at_a_time && credit <= batch && subscription.requests.size() < 2)) {
    const uint64_t id = ++subscription.next_request;
    const int64_t expires_ns = int64_t(options_.consumers.fetch_wait_ms) * 1'000'000;
    const std::string request =
        "{\"batch\":" + std::to_string(batch) + ",\"expires\":" + std::to_string(expires_ns) + "}";
    const std::string reply = subscription.inbox_prefix + std::to_string(id);
    if (natsConnection_PublishRequest(nc_, subscription.next_subject.c_str(), reply.c_str(), request.data(),
                                      static_cast<int>(request.size())) == NATS_OK) {
      subscription.requests[id] = {batch, now + lifetime};
      renewal = std::min(renewal, renew_at(subscription.requests[id]));
    } else {
      renewal = now + std::chrono::milliseconds(100); // try again soon
    }
  }
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::ceil<std::chrono::milliseconds>(renewal - Clock::now()));
}

void JetStreamBus::fetch_loop(Subscription &subscription) {
  auto last_error_log = Clock::time_point{};
  std::vector<natsMsg *> batch;
  // Handled messages whose effects await their PubAcks. While more messages are already here,
  // the next batch is handled meanwhile (the round trip overlaps work); once none is waiting, or
  // enough effects are in flight, every answer is read and the messages acked or nak'd.
  std::vector<std::pair<natsMsg *, HandlerScope>> awaiting;
  size_t awaiting_effects = 0;
  const size_t max_awaiting_effects = static_cast<size_t>(std::max(1, options_.max_in_flight / 4));
  auto settle_awaiting = [&] {
    settle(subscription, awaiting);
    for (auto &[msg, scope] : awaiting)
      natsMsg_Destroy(msg);
    awaiting.clear();
    awaiting_effects = 0;
  };
  while (!stopping_) {
    if (!connected()) {
      subscription.requests.clear(); // the server may have lost them: ask again once back
      settle_awaiting();             // their answers may still come; if not, they are nak'd
      wait_connected(Clock::now() + std::chrono::milliseconds(200));
      continue;
    }
    const auto wait = request_more(subscription);
    if (!awaiting.empty()) {
      int waiting_here = 0;
      natsSubscription_GetPending(subscription.sub, &waiting_here, nullptr);
      if (waiting_here == 0 || awaiting_effects >= max_awaiting_effects) {
        settle_awaiting();
        continue;
      }
    }
    natsMsg *first = nullptr;
    if (natsSubscription_NextMsg(&first, subscription.sub, wait.count()) != NATS_OK)
      continue;
    // Whatever else has arrived is handled in the same batch (its effects written together).
    batch.clear();
    batch.push_back(first);
    int queued = 0;
    natsSubscription_GetPending(subscription.sub, &queued, nullptr);
    for (natsMsg *more = nullptr;
         queued-- > 0 && static_cast<int>(batch.size()) < options_.consumers.fetch_batch;)
      if (natsSubscription_NextMsg(&more, subscription.sub, 1) == NATS_OK)
        batch.push_back(more);

    std::vector<natsMsg *> messages;
    bool refused = false;
    for (natsMsg *msg : batch) {
      const char *status = nullptr;
      if (natsMsg_GetDataLength(msg) == 0 && natsMsgHeader_Get(msg, "Status", &status) == NATS_OK) {
        // Sent to the request's own reply subject. 408: the request expired; 409: the server
        // ended it (e.g. max waiting exceeded, leadership change).
        const char *reply_to = natsMsg_GetSubject(msg);
        const size_t skip = std::min(subscription.inbox_prefix.size(), std::strlen(reply_to));
        subscription.requests.erase(std::strtoull(reply_to + skip, nullptr, 10));
        // Anything but an expiry (e.g. the consumer deleted) is not asked again at once.
        refused = refused || std::strncmp(status, "408", 3) != 0;
        if (std::strncmp(status, "408", 3) != 0 && std::strncmp(status, "404", 3) != 0 &&
            Clock::now() - last_error_log > std::chrono::seconds(5)) {
          last_error_log = Clock::now();
          const char *description = nullptr;
          natsMsgHeader_Get(msg, "Description", &description);
          log::warn("jetstream.fetch_failed", {{"durable", subscription.spec.durable},
                                               {"status", status},
                                               {"reason", description ? description : ""}});
        }
        natsMsg_Destroy(msg);
        continue;
      }
      // Messages carry their own subject, not the request's: the server fills requests in order.
      if (auto oldest = subscription.requests.begin();
          oldest != subscription.requests.end() && --oldest->second.remaining <= 0)
        subscription.requests.erase(oldest);
      messages.push_back(msg);
    }
    subscription.unacked += static_cast<int>(messages.size());
    // One message alone goes out at once; a batch writes its effects together (flushed by
    // settle()). While effects are awaited, later ones take the connection those took, so the
    // effects of one consumer reach the stream in the order they were published (two
    // connections give no order between them).
    const bool batched = awaiting.empty() ? messages.size() > 1 : awaiting.front().second.batched;
    for (natsMsg *msg : messages) {
      HandlerScope scope;
      scope.batched = batched;
      const Outcome outcome = deliver(subscription, msg, scope);
      if (outcome == Outcome::awaiting_effects) {
        awaiting_effects += scope.effects.size();
        awaiting.emplace_back(msg, std::move(scope));
      } else {
        if (outcome == Outcome::settled) // a deferred one counts until its settlement
          --subscription.unacked;
        natsMsg_Destroy(msg);
      }
    }
    if (refused && messages.empty())
      pause(std::chrono::milliseconds(100));
  }
  settle_awaiting();
}

// Reads the PubAck (or failure) of every effect sent by this batch's handlers, then acks each
// message whose effects were all stored and nak's the others (redelivered; the same ids then).
void JetStreamBus::settle(Subscription &subscription,
                          std::vector<std::pair<natsMsg *, HandlerScope>> &awaiting) {
  if (awaiting.empty())
    return;
  std::vector<std::string> failures(awaiting.size());
  // Rounds: the answers of every effect sent so far; continuations (write_with_effects' `then`)
  // then run in message order, and what they send is read in the next round.
  for (bool more = true; more;) {
    more = false;
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.publish_timeout_ms);
    std::vector<uint64_t> tokens;
    bool batched = false;
    for (auto &[msg, scope] : awaiting) {
      batched = batched || scope.batched;
      tokens.insert(tokens.end(), scope.effects.begin(), scope.effects.end());
    }
    if (tokens.empty())
      break;
    std::sort(tokens.begin(), tokens.end());
    const uint64_t first = tokens.front();
    if (batched) // the effects and the acks written so far leave now, in one write
      natsConnection_FlushTimeout(batch_nc_, options_.publish_timeout_ms);
    // One pass over this thread's inbox reads every answer of the batch.
    std::vector<std::optional<Answer>> answers = collect(tokens, deadline);
    release_slots(static_cast<int>(tokens.size()));

    for (size_t i = 0; i < awaiting.size(); ++i) {
      HandlerScope &scope = awaiting[i].second;
      std::string &failure = failures[i];
      auto failure_of = [&](uint64_t token) -> std::string {
        const auto &answer = answers[token - first];
        return !answer                                        ? "no PubAck before the deadline"
               : answer->status == PublishStatus::unavailable ? answer->failure
                                                              : "";
      };
      for (uint64_t token : scope.effects)
        if (failure.empty())
          failure = failure_of(token);
      scope.effects.clear();
      auto continuations = std::move(scope.then);
      scope.then.clear();
      HandlerScope next;
      next.bus = this;
      next.batched = scope.batched;
      for (auto &[token, then] : continuations) {
        const auto &answer = answers[token - first];
        const KeyValue::Result result = !failure_of(token).empty() ? KeyValue::Result::unavailable
                                        : answer && answer->status == PublishStatus::duplicate
                                            ? KeyValue::Result::exists
                                            : KeyValue::Result::ok;
        current_handler_scope = &next;
        try {
          then(result);
        } catch (const std::exception &e) {
          if (failure.empty())
            failure = std::string("a continuation failed: ") + e.what();
        } catch (...) { // whatever it throws, the message comes again; the fetch thread goes on
          if (failure.empty())
            failure = "a continuation failed";
        }
        current_handler_scope = nullptr;
      }
      if (next.failed && failure.empty())
        failure = "a continuation's effect could not be sent";
      scope.effects = std::move(next.effects);
      scope.then = std::move(next.then);
      more = more || !scope.effects.empty();
    }
  }

  for (size_t i = 0; i < awaiting.size(); ++i) {
    natsMsg *msg = awaiting[i].first;
    if (failures[i].empty()) {
      ack(msg);
    } else {
      log::warn("jetstream.effect_not_stored",
                {{"durable", subscription.spec.durable},
                 {"reason", failures[i]},
                 {"effect", "the message is redelivered and its effects published again"}});
      acknowledge(msg, Acknowledgement::nak_later);
    }
    --subscription.unacked;
  }
}

JetStreamBus::Outcome JetStreamBus::deliver(Subscription &subscription, natsMsg *msg, HandlerScope &scope) {
  const char *subject_text = natsMsg_GetSubject(msg);
  const std::optional<Subject> subject = subject_from_name(subject_text ? subject_text : "");
  uint64_t delivered = 1, stream_sequence = 0;
  if (jsMsgMetaData *meta = nullptr; natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    delivered = std::max<uint64_t>(1, meta->NumDelivered);
    stream_sequence = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
  // A consumer spanning several first tokens reads the whole stream: skip what is not ours.
  if (!subject || !subscription.wanted[static_cast<size_t>(*subject)]) {
    ack(msg);
    return Outcome::settled;
  }
  const char *id = nullptr;
  natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);

  Message message;
  message.subject = *subject;
  try {
    const char *data = natsMsg_GetData(msg);
    std::string_view text(data, static_cast<size_t>(natsMsg_GetDataLength(msg)));
    // Anyone who may publish on the stream writes these: bound the nesting before decoding.
    if (auto depth = check_json_depth(text, max_bus_json_depth); !depth.ok)
      throw DecodeError(depth.field.empty() ? "body" : depth.field,
                        "nested deeper than " + std::to_string(max_bus_json_depth) + " levels");
    auto json = nlohmann::json::parse(text);
    message.payload = payload_from_json(*subject, json);
  } catch (const std::exception &e) {
    // A message that cannot be decoded never will be: terminate it so it does not loop.
    log::error("jetstream.poison_message", {{"durable", subscription.spec.durable},
                                            {"subject", subject_text},
                                            {"stream_sequence", stream_sequence},
                                            {"msg_id", id ? id : ""},
                                            {"reason", e.what()}});
    acknowledge(msg, Acknowledgement::term);
    return Outcome::settled;
  }
  if (id)
    message.msg_id = id;

  struct ScopeGuard {
    explicit ScopeGuard(HandlerScope *scope) { current_handler_scope = scope; }
    ~ScopeGuard() { current_handler_scope = nullptr; }
  };
  if (options_.consumers.defer_handler_publishes)
    scope.bus = this;
  // One pointer captured: the std::function keeps it inline (no allocation per message).
  struct {
    JetStreamBus *bus;
    Subscription *subscription;
    natsMsg *msg;
    std::shared_ptr<Settlement> settlement;
  } defer{this, &subscription, msg, nullptr};
  std::shared_ptr<Settlement> &deferred = defer.settlement;
  Delivery delivery{message, delivered > 1, [d = &defer]() -> std::shared_ptr<Settlement> {
                      if (!d->settlement)
                        d->settlement = std::make_shared<DeferredSettlement>(*d->bus, *d->subscription,
                                                                             natsMsg_GetReply(d->msg));
                      return d->settlement;
                    }};
  try {
    ScopeGuard guard(scope.bus ? &scope : nullptr);
    subscription.handler(delivery);
  } catch (const std::exception &e) {
    log::error("jetstream.handler_failed",
               {{"durable", subscription.spec.durable},
                {"subject", subject_text},
                {"stream_sequence", stream_sequence},
                {"delivery", delivered},
                {"reason", e.what()}},
               corr_id_of(message));
    release_slots(static_cast<int>(scope.effects.size())); // effects already sent: answers ignored
    if (deferred) {
      deferred->stored(false); // nak'd (and counted) once; a later stored() does nothing
      return Outcome::deferred;
    }
    acknowledge(msg, Acknowledgement::nak_later); // retried up to max_deliver times
    return Outcome::settled;
  }
  if (deferred) {
    // The handler's store acks it (or naks it) once it knows; this thread is done with it. A
    // deferring handler publishes nothing, so there are no effects to wait for.
    if (!scope.effects.empty()) {
      log::error("jetstream.deferred_with_effects", {{"durable", subscription.spec.durable}});
      release_slots(static_cast<int>(scope.effects.size()));
      deferred->stored(false);
    }
    return Outcome::deferred;
  }
  if (scope.failed) { // a deferred effect could not even be sent
    release_slots(static_cast<int>(scope.effects.size()));
    for (auto &[token, then] : scope.then) { // told, so they know the message comes again
      try {
        then(KeyValue::Result::unavailable);
      } catch (...) { // it is nak'd below whatever the continuation says
      }
    }
    acknowledge(msg, Acknowledgement::nak_later);
    return Outcome::settled;
  }
  if (!scope.effects.empty())
    return Outcome::awaiting_effects;
  // After the handler: its effects were published (and acked) before this ack.
  ack(msg);
  return Outcome::settled;
}

bool JetStreamBus::wait_idle(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(publish_mutex_);
    if (!accepting_ && in_flight_ == 0 && !started_ok_)
      return true; // start() did not succeed: nothing was sent or fetched
  }
  const auto deadline = Clock::now() + timeout;
  int clean_passes = 0;
  while (true) {
    bool clean;
    {
      std::lock_guard lock(publish_mutex_);
      clean = in_flight_ == 0;
    }
    for (auto &subscription : subscriptions_)
      clean = clean && subscription->unacked == 0;
    if (clean && !subscriptions_.empty()) {
      if (!connected())
        clean = false;
      else {
        natsConnection_FlushTimeout(batch_nc_, 1000); // our acks reach the server before the queries
        jsOptions query;
        jsOptions_Init(&query);
        query.Wait = 1000;
        for (auto &subscription : subscriptions_) {
          jsConsumerInfo *info = nullptr;
          if (js_GetConsumerInfo(&info, js_, options_.stream.c_str(), subscription->spec.durable.c_str(),
                                 &query, nullptr) != NATS_OK) {
            clean = false;
            break;
          }
          clean = info->NumPending == 0 && info->NumAckPending == 0;
          jsConsumerInfo_Destroy(info);
          if (!clean)
            break;
        }
      }
    }
    // Two clean passes: a handler's effect stored after one consumer was checked shows in the next.
    clean_passes = clean ? clean_passes + 1 : 0;
    if (clean_passes >= 2 || (clean && subscriptions_.empty()))
      return true;
    if (Clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void JetStreamBus::stop() {
  if (!started_ || stopping_.exchange(true))
    return;
  {
    std::lock_guard lock(state_mutex_);
    state_cv_.notify_all();
  }
  // Fetching stops; handlers of messages already fetched finish, and may still publish.
  for (auto &subscription : subscriptions_)
    if (subscription->thread.joinable())
      subscription->thread.join();
  {
    std::lock_guard lock(publish_mutex_);
    accepting_ = false;
    publish_cv_.notify_all();
  }
  {
    // Callers leave promptly (waiting for a connection stops on stopping_); acks of messages
    // already sent arrive or time out within publish_timeout_ms.
    std::unique_lock lock(publish_mutex_);
    publish_cv_.wait(lock, [&] { return callers_ == 0; });
    publish_cv_.wait_for(lock, std::chrono::milliseconds(options_.publish_timeout_ms),
                         [&] { return in_flight_ == 0; });
  }
  {
    // Deliveries still waiting for their store stay unacked: the server delivers them again.
    std::lock_guard lock(deferred_->mutex);
    deferred_->closed = true;
  }
  if (connected())
    natsConnection_FlushTimeout(batch_nc_, 2000); // the last acks
  close_connection();
  log::info("jetstream.stopped", {{"stream", options_.stream}});
}

std::optional<KeyValue::Result> JetStreamBus::write_effect(const std::string &subject,
                                                           const std::string &value, bool only_if_absent,
                                                           KeyValue::Then then) {
  HandlerScope *scope = current_handler_scope;
  if (!scope || scope->bus != this)
    return std::nullopt;
  Caller caller(*this);
  if (!caller.admitted())
    return KeyValue::Result::unavailable;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.publish_timeout_ms);
  std::string failure;
  uint64_t token = 0;
  // The same connection as the delivery's other effects; no message id: the key is the identity.
  if (!send(scope->batched ? batch_nc_ : nc_, subject, value, "", "", deadline, token, failure,
            only_if_absent)) {
    scope->failed = true;
    log::warn("jetstream.record_unavailable", {{"subject", subject}, {"reason", failure}});
    return KeyValue::Result::unavailable;
  }
  scope->effects.push_back(token); // settled (PubAck read, slot released) with the others
  if (then)
    scope->then.emplace_back(token, std::move(then));
  return KeyValue::Result::ok;
}

std::shared_ptr<KeyValue> JetStreamBus::key_value(const std::string &name, std::chrono::seconds ttl) {
  auto bucket = std::make_shared<JetStreamKeyValue>(options_.stream + "_" + name, ttl, options_.replicas);
  bucket->set_effect_writer(
      [this](const std::string &subject, const std::string &value, bool only_if_absent, KeyValue::Then then) {
        return write_effect(subject, value, only_if_absent, std::move(then));
      });
  std::lock_guard lock(buckets_mutex_);
  if (js_) // already started
    bucket->bind(js_);
  buckets_.push_back(bucket);
  return bucket;
}

void JetStreamBus::close_connection() {
  for (auto &subscription : subscriptions_) {
    // Destroy only: since nats.c 3.4 this never deletes the durable consumer.
    if (subscription->sub)
      natsSubscription_Destroy(subscription->sub);
    subscription->sub = nullptr;
  }
  {
    std::lock_guard lock(inboxes_mutex_);
    for (auto &inbox : inboxes_)
      natsSubscription_Destroy(inbox->sub);
    inboxes_.clear();
  }
  {
    std::lock_guard lock(buckets_mutex_);
    for (auto &bucket : buckets_)
      bucket->unbind();
  }
  if (js_)
    jsCtx_Destroy(js_);
  js_ = nullptr;
  int expected_closed;
  {
    std::lock_guard lock(state_mutex_);
    expected_closed = closed_; // earlier connections (start() attempts) closed already
  }
  for (natsConnection **connection : {&batch_nc_, &nc_}) {
    if (!*connection)
      continue;
    natsConnection_Close(*connection);
    // The closed callback is the connection's last one: after it, none can reach this object.
    ++expected_closed;
    std::unique_lock lock(state_mutex_);
    if (!state_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return closed_ >= expected_closed; }))
      log::warn("jetstream.close_slow", {{"stream", options_.stream}});
    lock.unlock();
    natsConnection_Destroy(*connection);
    *connection = nullptr;
  }
  for (natsOptions **opts : {&batch_options_, &nats_options_}) {
    if (*opts)
      natsOptions_Destroy(*opts);
    *opts = nullptr;
  }
}

void JetStreamBus::disconnected_callback(natsConnection *, void *closure) {
  auto *self = static_cast<JetStreamBus *>(closure);
  if (!self->stopping_)
    log::warn("jetstream.disconnected", {{"servers", self->options_.servers}});
  std::lock_guard lock(self->state_mutex_);
  self->state_cv_.notify_all();
}

void JetStreamBus::reconnected_callback(natsConnection *nc, void *closure) {
  auto *self = static_cast<JetStreamBus *>(closure);
  char url[256] = {0};
  natsConnection_GetConnectedUrl(nc, url, sizeof url);
  log::info("jetstream.reconnected", {{"server", url}});
  std::lock_guard lock(self->state_mutex_);
  self->state_cv_.notify_all();
}

void JetStreamBus::closed_callback(natsConnection *, void *closure) {
  auto *self = static_cast<JetStreamBus *>(closure);
  std::lock_guard lock(self->state_mutex_);
  ++self->closed_;
  self->state_cv_.notify_all();
}

BusHealth JetStreamBus::health() const {
  BusHealth health;
  const bool up = !stopping_ && connected();
  health.state = up ? "connected" : "disconnected";
  std::lock_guard lock(health_mutex_);
  const auto now = Clock::now();
  if (now - health_refreshed_ >= std::chrono::seconds(1)) {
    health_refreshed_ = now;
    jsOptions query;
    jsOptions_Init(&query);
    query.Wait = 500;
    for (const auto &subscription : subscriptions_) {
      ConsumerHealth &cached = subscription->health;
      jsConsumerInfo *info = nullptr;
      if (up && js_GetConsumerInfo(&info, js_, options_.stream.c_str(), subscription->spec.durable.c_str(),
                                   &query, nullptr) == NATS_OK) {
        cached.num_pending = info->NumPending;
        cached.num_waiting = static_cast<uint64_t>(std::max<int64_t>(info->NumWaiting, 0));
        cached.healthy = true;
        jsConsumerInfo_Destroy(info);
      } else {
        cached.healthy = false; // keep the last known counts
      }
    }
  }
  for (const auto &subscription : subscriptions_) {
    ConsumerHealth consumer = subscription->health;
    consumer.healthy = consumer.healthy && up;
    health.consumers.push_back(std::move(consumer));
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
