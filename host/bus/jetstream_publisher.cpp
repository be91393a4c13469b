#include "bus/jetstream_publisher.hpp"

#include "bus/jetstream_bus.hpp"
#include "bus/nats_status.hpp"

#include "events/json_writer.hpp"
#include "observability/log.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

namespace th {
namespace {

std::atomic<uint64_t> publisher_serials{0};
thread_local HandlerScope *current_handler_scope = nullptr;

} // namespace

HandlerScopeGuard::HandlerScopeGuard(HandlerScope *scope) {
  current_handler_scope = scope;
}
HandlerScopeGuard::~HandlerScopeGuard() {
  current_handler_scope = nullptr;
}

// Where PubAcks come back to one thread: a sync subscription on "{prefix}*", each publish
// replying to "{prefix}{token}". The library's reader thread hands a PubAck straight to the
// waiting thread (no dispatcher thread, no shared table of pending publishes).
struct JetStreamPublisher::ReplyInbox {
  natsSubscription *sub = nullptr;
  std::string prefix;
  uint64_t next_token = 0;
};

class JetStreamPublisher::Caller {
public:
  explicit Caller(JetStreamPublisher &publisher) : publisher_(publisher) {
    std::lock_guard lock(publisher.publish_mutex_);
    if ((admitted_ = publisher.accepting_))
      ++publisher.callers_;
  }
  ~Caller() {
    if (!admitted_)
      return;
    std::lock_guard lock(publisher_.publish_mutex_);
    --publisher_.callers_;
    publisher_.publish_cv_.notify_all();
  }
  Caller(const Caller &) = delete;
  Caller &operator=(const Caller &) = delete;
  bool admitted() const { return admitted_; }

private:
  JetStreamPublisher &publisher_;
  bool admitted_ = false;
};

JetStreamPublisher::JetStreamPublisher(const JetStreamOptions &options, JetStreamConnection &connection)
    : options_(options), connection_(connection), serial_(++publisher_serials) {}

JetStreamPublisher::~JetStreamPublisher() = default;

PublishStatus JetStreamPublisher::publish(const Message &message, std::chrono::milliseconds timeout) {
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

  if (HandlerScope *scope = current_handler_scope; scope && scope->publisher == this) {
    // Deferred (only set up with defer_handler_publishes): "ok" means sent; the delivery being
    // handled is acked only once this PubAck arrives, else it is nak'd and comes again.
    std::string failure;
    uint64_t token = 0;
    if (!send(scope->batched ? connection_.batching() : connection_.direct(), subject, body, id, corr_id,
              deadline, token, failure)) {
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
      connection_.pause(std::chrono::milliseconds(20));
    uint64_t token = 0;
    answer = Answer{};
    if (send(connection_.direct(), subject, body, id, corr_id, deadline, token, answer.failure)) {
      std::vector<std::optional<Answer>> answers = collect({token}, deadline);
      release_slots(1);
      if (answers[0])
        answer = *answers[0];
      else
        answer.failure = "no PubAck before the deadline";
    }
    if (!answer.retryable || Clock::now() >= deadline || connection_.stopping())
      break;
  }
  if (answer.status == PublishStatus::unavailable)
    log::warn(
        "jetstream.publish_unavailable",
        {{"subject", subject}, {"msg_id", id}, {"reason", answer.failure}, {"timeout_ms", timeout.count()}},
        corr_id);
  return answer.status;
}

std::optional<KeyValue::Result> JetStreamPublisher::write_effect(const std::string &subject,
                                                                 const std::string &value,
                                                                 bool only_if_absent, KeyValue::Then then) {
  HandlerScope *scope = current_handler_scope;
  if (!scope || scope->publisher != this)
    return std::nullopt;
  Caller caller(*this);
  if (!caller.admitted())
    return KeyValue::Result::unavailable;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.publish_timeout_ms);
  std::string failure;
  uint64_t token = 0;
  // The same connection as the delivery's other effects; no message id: the key is the identity.
  if (!send(scope->batched ? connection_.batching() : connection_.direct(), subject, value, "", "", deadline,
            token, failure, only_if_absent)) {
    scope->failed = true;
    log::warn("jetstream.record_unavailable", {{"subject", subject}, {"reason", failure}});
    return KeyValue::Result::unavailable;
  }
  scope->effects.push_back(token); // settled (PubAck read, slot released) with the others
  if (then)
    scope->then.emplace_back(token, std::move(then));
  return KeyValue::Result::ok;
}

JetStreamPublisher::ReplyInbox *JetStreamPublisher::thread_inbox() {
  // One inbox per thread and bus, keyed by the publisher's serial number (an address may be reused).
  thread_local std::unordered_map<uint64_t, ReplyInbox *> inboxes;
  if (auto it = inboxes.find(serial_); it != inboxes.end())
    return it->second;
  auto inbox = std::make_unique<ReplyInbox>();
  natsConnection *nc = connection_.direct();
  natsInbox *name = nullptr;
  natsStatus status = natsInbox_Create(&name);
  if (status == NATS_OK) {
    inbox->prefix = std::string(name) + ".";
    natsInbox_Destroy(name);
    status = natsConnection_SubscribeSync(&inbox->sub, nc, (inbox->prefix + "*").c_str());
  }
  if (status == NATS_OK) // never drop a PubAck
    status = natsSubscription_SetPendingLimits(inbox->sub, -1, -1);
  // The server must know the subscription before an answer comes: a publish on the batching
  // connection could otherwise overtake it and its PubAck go nowhere.
  if (status == NATS_OK)
    status = natsConnection_FlushTimeout(nc, std::max(options_.publish_timeout_ms, 1000));
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

bool JetStreamPublisher::send(natsConnection *connection, const std::string &subject, const std::string &body,
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
  if (!connection_.wait_connected(deadline)) {
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

std::vector<std::optional<JetStreamPublisher::Answer>>
JetStreamPublisher::collect(const std::vector<uint64_t> &tokens, Clock::time_point deadline) {
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

JetStreamPublisher::Answer JetStreamPublisher::read_answer(natsMsg *reply) {
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

void JetStreamPublisher::release_slots(int count) {
  std::lock_guard lock(publish_mutex_);
  in_flight_ -= count;
  publish_cv_.notify_all();
}

void JetStreamPublisher::open() {
  std::lock_guard lock(publish_mutex_);
  accepting_ = true;
  started_ok_ = true;
}

bool JetStreamPublisher::never_opened() const {
  std::lock_guard lock(publish_mutex_);
  return !accepting_ && in_flight_ == 0 && !started_ok_;
}

bool JetStreamPublisher::nothing_in_flight() const {
  std::lock_guard lock(publish_mutex_);
  return in_flight_ == 0;
}

void JetStreamPublisher::close() {
  {
    std::lock_guard lock(publish_mutex_);
    accepting_ = false;
    publish_cv_.notify_all();
  }
  // Callers leave promptly (waiting for a connection stops on stopping); acks of messages
  // already sent arrive or time out within publish_timeout_ms.
  std::unique_lock lock(publish_mutex_);
  publish_cv_.wait(lock, [&] { return callers_ == 0; });
  publish_cv_.wait_for(lock, std::chrono::milliseconds(options_.publish_timeout_ms),
                       [&] { return in_flight_ == 0; });
}

void JetStreamPublisher::close_inboxes() {
  std::lock_guard lock(inboxes_mutex_);
  for (auto &inbox : inboxes_)
    natsSubscription_Destroy(inbox->sub);
  inboxes_.clear();
}

} // namespace th
