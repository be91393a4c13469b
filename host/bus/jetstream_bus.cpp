#include "bus/jetstream_bus.hpp"

#include "events/json_codec.hpp"
#include "observability/log.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace th {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t ns_per_s = 1'000'000'000;

std::string nats_error(natsStatus status) {
  natsStatus last = NATS_OK;
  const char *text = nats_GetLastError(&last);
  std::string out = natsStatus_GetText(status);
  if (text && *text && last == status)
    out += " (" + std::string(text) + ")";
  return out;
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

// One publish waiting for its PubAck.
struct PublishWaiter {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  PublishStatus status = PublishStatus::unavailable;
  bool retryable = false; // no stream leader answered: worth resending with the same id
  std::string failure;
};

// The delivery whose handler runs on this thread: with consumers.defer_handler_publishes, the
// handler's publishes attach to it and its ack waits for their PubAcks at the end of the batch.
struct HandlerScope {
  const void *bus = nullptr;
  std::vector<std::pair<natsMsg *, std::shared_ptr<PublishWaiter>>> effects; // sent, awaiting PubAck
  bool failed = false;                                                       // one could not be sent
};
thread_local HandlerScope *current_handler_scope = nullptr;

struct Subscription {
  SubscriptionSpec spec;
  Handler handler;
  std::string filter; // the consumer's filter subject; empty = the whole stream
  std::array<bool, subject_count> wanted{};
  natsSubscription *sub = nullptr;
  std::thread thread;
  std::atomic<int> unacked{0}; // fetched by this process and not yet acked or nak'd
  ConsumerHealth health;       // cached, refreshed at most once a second
};

class JetStreamBus final : public Bus {
public:
  explicit JetStreamBus(JetStreamOptions options) : options_(std::move(options)) {}
  ~JetStreamBus() override { stop(); }

  void subscribe(const SubscriptionSpec &spec, Handler handler) override;
  void start() override;
  PublishStatus publish(const Message &message, std::chrono::milliseconds timeout) override;
  bool wait_idle(std::chrono::milliseconds timeout) override;
  void stop() override;
  BusHealth health() const override;

private:
  void connect();
  void ensure_stream();
  void ensure_consumer(Subscription &subscription);
  void bind(Subscription &subscription);
  void fetch_loop(Subscription &subscription);
  enum class Outcome { settled, awaiting_effects };
  Outcome deliver(Subscription &subscription, natsMsg *msg, HandlerScope &scope);
  void settle(Subscription &subscription, std::vector<std::pair<natsMsg *, HandlerScope>> &awaiting);
  void close_connection();
  bool connected() const { return nc_ && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED; }
  bool wait_connected(Clock::time_point deadline);
  void pause(std::chrono::milliseconds duration);
  void on_pub_ack(natsMsg *msg, jsPubAck *ack, jsPubAckErr *error);
  struct Attempt {
    PublishStatus status = PublishStatus::unavailable;
    bool retryable = false;
    std::string failure;
  };
  struct Sent {
    natsMsg *key = nullptr; // the message, as the ack callback will see it
    std::shared_ptr<PublishWaiter> waiter;
    Attempt failure; // when waiter is null
  };
  Sent send(const std::string &subject, const std::string &body, const std::string &id,
            const std::string &corr_id, Clock::time_point deadline);
  Attempt await_ack(const Sent &sent, Clock::time_point deadline);
  Attempt publish_once(const std::string &subject, const std::string &body, const std::string &id,
                       const std::string &corr_id, Clock::time_point deadline) {
    Sent sent = send(subject, body, id, corr_id, deadline);
    return sent.waiter ? await_ack(sent, deadline) : sent.failure;
  }

  static void pub_ack_callback(jsCtx *, natsMsg *msg, jsPubAck *ack, jsPubAckErr *error, void *closure) {
    static_cast<JetStreamBus *>(closure)->on_pub_ack(msg, ack, error);
    natsMsg_Destroy(msg); // the library hands the message back to us
  }
  static void disconnected_callback(natsConnection *, void *closure);
  static void reconnected_callback(natsConnection *, void *closure);
  static void closed_callback(natsConnection *, void *closure);

  JetStreamOptions options_;
  std::vector<std::unique_ptr<Subscription>> subscriptions_;
  natsOptions *nats_options_ = nullptr;
  natsConnection *nc_ = nullptr;
  jsCtx *js_ = nullptr;
  bool started_ = false;
  std::atomic<bool> stopping_{false};

  // Connection state changes (from the library's callback thread) wake waiting threads.
  std::mutex state_mutex_;
  std::condition_variable state_cv_;
  bool closed_ = false;

  // Publishing: callers_ counts threads that may still touch js_; in_flight_ counts publishes
  // whose PubAck (or failure) has not arrived, bounded by max_in_flight.
  std::mutex publish_mutex_;
  std::condition_variable publish_cv_;
  bool accepting_ = false;
  int callers_ = 0;
  int in_flight_ = 0;
  std::mutex waiters_mutex_;
  std::unordered_map<natsMsg *, std::shared_ptr<PublishWaiter>> waiters_;

  mutable std::mutex health_mutex_;
  mutable Clock::time_point health_refreshed_{};
};

void JetStreamBus::subscribe(const SubscriptionSpec &spec, Handler handler) {
  if (started_)
    throw std::runtime_error("jetstream bus: subscribe('" + spec.durable + "') after start()");
  if (spec.durable.empty() || spec.durable.find_first_of(". *>/\\\t") != std::string::npos)
    throw std::runtime_error("jetstream bus: durable name '" + spec.durable +
                             "' must be non-empty without '.', '*', '>', '/', '\\' or spaces");
  if (spec.subjects.empty())
    throw std::runtime_error("jetstream bus: durable '" + spec.durable + "' has no subjects");
  if (!handler)
    throw std::runtime_error("jetstream bus: durable '" + spec.durable + "' has no handler");
  for (const auto &existing : subscriptions_)
    if (existing->spec.durable == spec.durable)
      throw std::runtime_error("jetstream bus: durable '" + spec.durable +
                               "' subscribed twice in one process");
  auto subscription = std::make_unique<Subscription>();
  subscription->spec = spec;
  subscription->handler = std::move(handler);
  subscription->filter = jetstream_filter_subject(spec.subjects);
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

void JetStreamBus::start() {
  if (started_)
    throw std::runtime_error("jetstream bus: start() called twice");
  started_ = true;
  try {
    connect();
    ensure_stream();
    for (auto &subscription : subscriptions_) {
      ensure_consumer(*subscription);
      bind(*subscription);
    }
  } catch (...) {
    close_connection();
    throw;
  }
  {
    std::lock_guard lock(publish_mutex_);
    accepting_ = true;
  }
  for (auto &subscription : subscriptions_)
    subscription->thread = std::thread([this, s = subscription.get()] { fetch_loop(*s); });
  log::info(
      "jetstream.started",
      {{"servers", options_.servers}, {"stream", options_.stream}, {"consumers", subscriptions_.size()}});
}

void JetStreamBus::connect() {
  natsStatus status = natsOptions_Create(&nats_options_);
  auto check = [&](natsStatus s, const char *what) {
    if (s != NATS_OK)
      throw std::runtime_error(std::string("jetstream bus: ") + what + ": " + nats_error(s));
  };
  check(status, "cannot create connection options");
  std::vector<const char *> urls;
  for (const auto &url : options_.servers)
    urls.push_back(url.c_str());
  check(natsOptions_SetServers(nats_options_, urls.data(), static_cast<int>(urls.size())), "bad servers");
  check(natsOptions_SetName(nats_options_, options_.connection_name.c_str()), "bad connection_name");
  check(natsOptions_SetTimeout(nats_options_, options_.connect_timeout_ms), "bad connect_timeout_ms");
  check(natsOptions_SetAllowReconnect(nats_options_, true), "reconnect");
  check(natsOptions_SetMaxReconnect(nats_options_, -1), "reconnect"); // never give up
  check(natsOptions_SetReconnectWait(nats_options_, options_.reconnect_wait_ms), "bad reconnect_wait_ms");
  check(natsOptions_SetReconnectBufSize(nats_options_, options_.reconnect_buffer_bytes),
        "bad reconnect_buffer_bytes");
  // Every publish waits for its PubAck: send at once instead of letting the flusher batch writes.
  check(natsOptions_SetSendAsap(nats_options_, true), "send asap");
  check(natsOptions_SetDisconnectedCB(nats_options_, &disconnected_callback, this), "callbacks");
  check(natsOptions_SetReconnectedCB(nats_options_, &reconnected_callback, this), "callbacks");
  check(natsOptions_SetClosedCB(nats_options_, &closed_callback, this), "callbacks");
  if (!options_.creds_file.empty())
    check(natsOptions_SetUserCredentialsFromFiles(nats_options_, options_.creds_file.c_str(), nullptr),
          ("cannot use creds_file " + options_.creds_file).c_str());
  if (!options_.nkey_file.empty())
    check(natsOptions_SetNKeyFromSeed(nats_options_, options_.nkey.c_str(), options_.nkey_file.c_str()),
          ("cannot use nkey_file " + options_.nkey_file).c_str());
  if (!options_.user.empty())
    check(natsOptions_SetUserInfo(nats_options_, options_.user.c_str(), options_.password.c_str()),
          "cannot set user");
  if (options_.tls.enabled()) {
    check(natsOptions_SetSecure(nats_options_, true), "cannot enable TLS");
    if (!options_.tls.ca_file.empty())
      check(natsOptions_LoadCATrustedCertificates(nats_options_, options_.tls.ca_file.c_str()),
            ("cannot load tls.ca_file " + options_.tls.ca_file).c_str());
    if (!options_.tls.cert_file.empty())
      check(natsOptions_LoadCertificatesChain(nats_options_, options_.tls.cert_file.c_str(),
                                              options_.tls.key_file.c_str()),
            ("cannot load tls.cert_file/key_file " + options_.tls.cert_file).c_str());
  }

  status = natsConnection_Connect(&nc_, nats_options_);
  if (status != NATS_OK) {
    nc_ = nullptr;
    throw std::runtime_error("jetstream bus: cannot connect to " + join(options_.servers) + ": " +
                             nats_error(status));
  }

  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = std::max(options_.publish_timeout_ms, 2000);
  js_options.PublishAsync.MaxPending = options_.max_in_flight;
  js_options.PublishAsync.AckHandler = &pub_ack_callback;
  js_options.PublishAsync.AckHandlerClosure = this;
  js_options.PublishAsync.StallWait = options_.publish_timeout_ms;
  check(natsConnection_JetStream(&js_, nc_, &js_options), "cannot create a JetStream context");
}

void JetStreamBus::ensure_stream() {
  const std::vector<std::string> wanted = contract_subjects();
  jsStreamInfo *info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_GetStreamInfo(&info, js_, options_.stream.c_str(), nullptr, &code);
  if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
    std::vector<const char *> subjects;
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
    status = js_AddStream(&info, js_, &config, nullptr, &code);
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
    status = js_GetStreamInfo(&info, js_, options_.stream.c_str(), nullptr, &code);
  }
  if (status != NATS_OK)
    throw std::runtime_error("jetstream bus: cannot create or read stream '" + options_.stream + "' on " +
                             join(options_.servers) + ": " + nats_error(status) +
                             (code ? " (JetStream error " + std::to_string(int(code)) + ")" : ""));

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
  const std::string &durable = subscription.spec.durable;
  const int64_t ack_wait = int64_t(options_.consumers.ack_wait_s) * ns_per_s;
  jsConsumerInfo *info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status =
      js_GetConsumerInfo(&info, js_, options_.stream.c_str(), durable.c_str(), nullptr, &code);
  if (status == NATS_NOT_FOUND || code == JSConsumerNotFoundErr) {
    jsConsumerConfig config;
    jsConsumerConfig_Init(&config);
    config.Durable = durable.c_str();
    config.AckPolicy = js_AckExplicit;
    config.AckWait = ack_wait;
    config.MaxDeliver = options_.consumers.max_deliver;
    config.DeliverPolicy = js_DeliverAll;
    config.FilterSubject = subscription.filter.empty() ? nullptr : subscription.filter.c_str();
    status = js_AddConsumer(&info, js_, options_.stream.c_str(), &config, nullptr, &code);
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
    status = js_GetConsumerInfo(&info, js_, options_.stream.c_str(), durable.c_str(), nullptr, &code);
  }
  if (status != NATS_OK)
    throw std::runtime_error("jetstream bus: cannot create or read consumer '" + durable + "' of stream '" +
                             options_.stream + "': " + nats_error(status) +
                             (code ? " (JetStream error " + std::to_string(int(code)) + ")" : ""));

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
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = options_.stream.c_str();
  sub_options.Consumer = subscription.spec.durable.c_str(); // bind: never create or change it here
  jsErrCode code = static_cast<jsErrCode>(0);
  const std::string subject = subscription.filter.empty() ? ">" : subscription.filter;
  natsStatus status = js_PullSubscribe(&subscription.sub, js_, subject.c_str(),
                                       subscription.spec.durable.c_str(), nullptr, &sub_options, &code);
  if (status != NATS_OK)
    throw std::runtime_error("jetstream bus: cannot bind to consumer '" + subscription.spec.durable +
                             "': " + nats_error(status));
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
  {
    std::lock_guard lock(publish_mutex_);
    if (!accepting_)
      return PublishStatus::unavailable;
    ++callers_;
  }
  const std::string subject(subject_name(message.subject));
  const std::string body = to_json(message.payload).dump();
  const std::string id = jetstream_msg_id(message);
  const std::string &corr_id = corr_id_of(message);

  if (HandlerScope *scope = current_handler_scope; scope && scope->bus == this) {
    // Deferred (only set up with defer_handler_publishes): "ok" means sent; the delivery being
    // handled is acked only once this PubAck arrives, else it is nak'd and comes again.
    Sent sent = send(subject, body, id, corr_id, deadline);
    {
      std::lock_guard lock(publish_mutex_);
      --callers_;
      publish_cv_.notify_all();
    }
    if (!sent.waiter) {
      scope->failed = true;
      log::warn("jetstream.publish_unavailable",
                {{"subject", subject}, {"msg_id", id}, {"reason", sent.failure.failure}}, corr_id);
      return PublishStatus::unavailable;
    }
    scope->effects.emplace_back(sent.key, std::move(sent.waiter));
    return PublishStatus::ok;
  }

  PublishStatus result = PublishStatus::unavailable;
  std::string failure = "timeout";
  // Resending with the same Nats-Msg-Id is safe: the server stores the message at most once.
  // "No responders" (no stream leader, e.g. during a cluster election) is retried until the deadline.
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0)
      pause(std::chrono::milliseconds(20));
    Attempt outcome = publish_once(subject, body, id, corr_id, deadline);
    result = outcome.status;
    failure = outcome.failure;
    if (!outcome.retryable || Clock::now() >= deadline || stopping_)
      break;
  }
  {
    std::lock_guard lock(publish_mutex_);
    --callers_;
    publish_cv_.notify_all();
  }
  if (result == PublishStatus::unavailable)
    log::warn("jetstream.publish_unavailable",
              {{"subject", subject}, {"msg_id", id}, {"reason", failure}, {"timeout_ms", timeout.count()}},
              corr_id);
  return result;
}

JetStreamBus::Sent JetStreamBus::send(const std::string &subject, const std::string &body,
                                      const std::string &id, const std::string &corr_id,
                                      Clock::time_point deadline) {
  {
    // Bounded in-flight publishes: wait for room until the deadline.
    std::unique_lock lock(publish_mutex_);
    if (!publish_cv_.wait_until(lock, deadline,
                                [&] { return !accepting_ || in_flight_ < options_.max_in_flight; }) ||
        !accepting_)
      return {nullptr, nullptr, {PublishStatus::unavailable, false, "no room among max_in_flight publishes"}};
    ++in_flight_;
  }
  auto release_slot = [&] {
    std::lock_guard lock(publish_mutex_);
    --in_flight_;
    publish_cv_.notify_all();
  };
  // Never queue into the reconnect buffer: a publish made while disconnected could be stored
  // after this call has already answered "unavailable".
  if (!wait_connected(deadline)) {
    release_slot();
    return {nullptr, nullptr, {PublishStatus::unavailable, false, "disconnected"}};
  }
  natsMsg *msg = nullptr;
  natsStatus status =
      natsMsg_Create(&msg, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
  if (status == NATS_OK)
    status = natsMsgHeader_Set(msg, "Nats-Msg-Id", id.c_str());
  if (status == NATS_OK && !corr_id.empty())
    status = natsMsgHeader_Set(msg, "Corr-Id", corr_id.c_str());
  if (status != NATS_OK) {
    natsMsg_Destroy(msg);
    release_slot();
    return {nullptr, nullptr, {PublishStatus::unavailable, false, nats_error(status)}};
  }

  auto waiter = std::make_shared<PublishWaiter>();
  natsMsg *const key = msg; // the library gives this same message back in the ack callback
  {
    std::lock_guard lock(waiters_mutex_);
    waiters_[key] = waiter;
  }
  jsPubOptions pub_options;
  jsPubOptions_Init(&pub_options);
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  pub_options.MaxWait = std::max<int64_t>(remaining, 1);
  status = js_PublishMsgAsync(js_, &msg, &pub_options);
  if (status != NATS_OK) {
    {
      std::lock_guard lock(waiters_mutex_);
      waiters_.erase(key);
    }
    natsMsg_Destroy(msg); // still ours: the library did not take it
    release_slot();
    return {nullptr, nullptr, {PublishStatus::unavailable, false, nats_error(status)}};
  }
  // From here the ack callback releases the in-flight slot.
  return {key, std::move(waiter), {}};
}

JetStreamBus::Attempt JetStreamBus::await_ack(const Sent &sent, Clock::time_point deadline) {
  PublishWaiter &waiter = *sent.waiter;
  std::unique_lock lock(waiter.mutex);
  if (!waiter.done_cv.wait_until(lock, deadline, [&] { return waiter.done; })) {
    lock.unlock();
    std::lock_guard waiters_lock(waiters_mutex_);
    waiters_.erase(sent.key);
    return {PublishStatus::unavailable, false, "no PubAck before the deadline"};
  }
  return {waiter.status, waiter.retryable, waiter.failure};
}

void JetStreamBus::on_pub_ack(natsMsg *msg, jsPubAck *ack, jsPubAckErr *error) {
  std::shared_ptr<PublishWaiter> waiter;
  {
    std::lock_guard lock(waiters_mutex_);
    auto it = waiters_.find(msg);
    if (it != waiters_.end()) {
      waiter = std::move(it->second);
      waiters_.erase(it);
    }
  }
  if (waiter) {
    std::lock_guard lock(waiter->mutex);
    if (ack)
      waiter->status = ack->Duplicate ? PublishStatus::duplicate : PublishStatus::ok;
    else if (error) {
      waiter->retryable = error->Err == NATS_NO_RESPONDERS;
      waiter->failure =
          std::string(natsStatus_GetText(error->Err)) +
          (error->ErrText && *error->ErrText ? std::string(": ") + error->ErrText : "") +
          (error->ErrCode ? " (JetStream error " + std::to_string(int(error->ErrCode)) + ")" : "");
    }
    waiter->done = true;
    waiter->done_cv.notify_all();
  }
  std::lock_guard lock(publish_mutex_);
  --in_flight_;
  publish_cv_.notify_all();
}

void JetStreamBus::fetch_loop(Subscription &subscription) {
  auto last_error_log = Clock::time_point{};
  while (!stopping_) {
    if (!connected()) {
      wait_connected(Clock::now() + std::chrono::milliseconds(200));
      continue;
    }
    natsMsgList list{nullptr, 0};
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus status = natsSubscription_Fetch(&list, subscription.sub, options_.consumers.fetch_batch,
                                               options_.consumers.fetch_wait_ms, &code);
    if (list.Count == 0) {
      natsMsgList_Destroy(&list);
      if (status == NATS_OK || status == NATS_TIMEOUT)
        continue;
      if (Clock::now() - last_error_log > std::chrono::seconds(5)) {
        last_error_log = Clock::now();
        log::warn("jetstream.fetch_failed", {{"durable", subscription.spec.durable},
                                             {"reason", nats_error(status)},
                                             {"jetstream_error", int(code)}});
      }
      pause(std::chrono::milliseconds(100));
      continue;
    }
    subscription.unacked += list.Count;
    std::vector<std::pair<natsMsg *, HandlerScope>> awaiting; // handled; acked once their effects are stored
    for (int i = 0; i < list.Count; ++i) {
      HandlerScope scope;
      if (deliver(subscription, list.Msgs[i], scope) == Outcome::awaiting_effects)
        awaiting.emplace_back(list.Msgs[i], std::move(scope));
      else
        --subscription.unacked;
    }
    settle(subscription, awaiting);
    natsMsgList_Destroy(&list);
  }
}

void JetStreamBus::settle(Subscription &subscription,
                          std::vector<std::pair<natsMsg *, HandlerScope>> &awaiting) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.publish_timeout_ms);
  for (auto &[msg, scope] : awaiting) {
    std::string failure;
    for (auto &[key, waiter] : scope.effects) {
      Attempt outcome = await_ack(Sent{key, waiter, {}}, deadline);
      if (outcome.status == PublishStatus::unavailable && failure.empty())
        failure = outcome.failure;
    }
    if (failure.empty()) {
      natsMsg_Ack(msg, nullptr);
    } else {
      log::warn("jetstream.effect_not_stored",
                {{"durable", subscription.spec.durable},
                 {"reason", failure},
                 {"effect", "the message is redelivered and its effects published again"}});
      natsMsg_NakWithDelay(msg, 1000, nullptr);
    }
    --subscription.unacked;
  }
}

JetStreamBus::Outcome JetStreamBus::deliver(Subscription &subscription, natsMsg *msg, HandlerScope &scope) {
  const char *subject_text = natsMsg_GetSubject(msg);
  const std::optional<Subject> subject = subject_from_name(subject_text ? subject_text : "");
  uint64_t delivered = 1, stream_sequence = 0;
  jsMsgMetaData *meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    delivered = meta->NumDelivered;
    stream_sequence = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
  // A consumer spanning several first tokens reads the whole stream: skip what is not ours.
  if (!subject || !subscription.wanted[static_cast<size_t>(*subject)]) {
    natsMsg_Ack(msg, nullptr);
    return Outcome::settled;
  }
  const char *id = nullptr;
  natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);

  Message message;
  message.subject = *subject;
  try {
    const char *data = natsMsg_GetData(msg);
    auto json = nlohmann::json::parse(data, data + natsMsg_GetDataLength(msg));
    message.payload = payload_from_json(*subject, json);
  } catch (const std::exception &e) {
    // A message that cannot be decoded never will be: terminate it so it does not loop.
    log::error("jetstream.poison_message", {{"durable", subscription.spec.durable},
                                            {"subject", subject_text},
                                            {"stream_sequence", stream_sequence},
                                            {"msg_id", id ? id : ""},
                                            {"reason", e.what()}});
    natsMsg_Term(msg, nullptr);
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
  try {
    ScopeGuard guard(scope.bus ? &scope : nullptr);
    subscription.handler(Delivery{message, delivered > 1});
  } catch (const std::exception &e) {
    log::error("jetstream.handler_failed",
               {{"durable", subscription.spec.durable},
                {"subject", subject_text},
                {"stream_sequence", stream_sequence},
                {"delivery", delivered},
                {"reason", e.what()}},
               corr_id_of(message));
    natsMsg_NakWithDelay(msg, 1000, nullptr); // retried up to max_deliver times
    return Outcome::settled;
  }
  if (scope.failed) { // a deferred effect could not even be sent
    natsMsg_NakWithDelay(msg, 1000, nullptr);
    return Outcome::settled;
  }
  if (!scope.effects.empty())
    return Outcome::awaiting_effects;
  // After the handler: its effects were published (and acked) before this ack.
  natsStatus status = natsMsg_Ack(msg, nullptr);
  if (status != NATS_OK)
    log::warn("jetstream.ack_failed",
              {{"durable", subscription.spec.durable},
               {"stream_sequence", stream_sequence},
               {"reason", nats_error(status)},
               {"effect", "redelivered after ack_wait; its effects are de-duplicated"}},
              corr_id_of(message));
  return Outcome::settled;
}

bool JetStreamBus::wait_idle(std::chrono::milliseconds timeout) {
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
        natsConnection_FlushTimeout(nc_, 1000); // our acks reach the server before the queries
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
  if (connected())
    natsConnection_FlushTimeout(nc_, 2000); // the last acks
  close_connection();
  log::info("jetstream.stopped", {{"stream", options_.stream}});
}

void JetStreamBus::close_connection() {
  for (auto &subscription : subscriptions_) {
    // Destroy only: since nats.c 3.4 this never deletes the durable consumer.
    if (subscription->sub)
      natsSubscription_Destroy(subscription->sub);
    subscription->sub = nullptr;
  }
  if (js_)
    jsCtx_Destroy(js_);
  js_ = nullptr;
  if (nc_) {
    natsConnection_Close(nc_);
    // The closed callback is the connection's last one: after it, none can reach this object.
    std::unique_lock lock(state_mutex_);
    if (!state_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return closed_; }))
      log::warn("jetstream.close_slow", {{"stream", options_.stream}});
    lock.unlock();
    natsConnection_Destroy(nc_);
    nc_ = nullptr;
  }
  if (nats_options_)
    natsOptions_Destroy(nats_options_);
  nats_options_ = nullptr;
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
  self->closed_ = true;
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
