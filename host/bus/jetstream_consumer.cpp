#include "bus/jetstream_consumer.hpp"

#include "bus/jetstream_bus.hpp"
#include "bus/nats_status.hpp"

#include "events/json_codec.hpp"
#include "events/json_depth.hpp"
#include "observability/log.hpp"

#include <pthread.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace th {

// A delivery whose handler stores it asynchronously (the audit stage, acking only what every
// sink has committed): acked or nak'd when the store says, from whichever thread says it.
class JetStreamConsumer::DeferredSettlement final : public Settlement {
public:
  DeferredSettlement(JetStreamConsumer &consumer, const char *reply)
      : consumer_(consumer), shared_(consumer.deferred_), reply_(reply ? reply : "") {}
  ~DeferredSettlement() override { stored(false); }
  void stored(bool ok) override {
    std::lock_guard lock(shared_->mutex);
    if (settled_)
      return;
    settled_ = true;
    if (shared_->closed) // the bus is gone: the server redelivers it after ack_wait
      return;
    if (!ok)
      log::warn("jetstream.store_failed", {{"durable", consumer_.spec_.durable},
                                           {"effect", "the message is redelivered and stored again"}});
    consumer_.acknowledge_reply(reply_.c_str(), ok ? Acknowledgement::ack : Acknowledgement::nak_later);
    --consumer_.unacked_;
  }

private:
  JetStreamConsumer &consumer_;
  std::shared_ptr<DeferredAcks> shared_;
  std::string reply_;
  bool settled_ = false;
};

JetStreamConsumer::JetStreamConsumer(const JetStreamOptions &options, JetStreamConnection &connection,
                                     JetStreamPublisher &publisher, std::shared_ptr<DeferredAcks> deferred,
                                     const SubscriptionSpec &spec, Handler handler)
    : options_(options), connection_(connection), publisher_(publisher), deferred_(std::move(deferred)),
      spec_(spec), handler_(std::move(handler)), filter_(jetstream_filter_subject(spec.subjects)) {
  for (Subject subject : spec.subjects)
    wanted_[static_cast<size_t>(subject)] = true;
  health_.durable = spec.durable;
  std::vector<std::string> names;
  for (Subject subject : spec.subjects)
    names.emplace_back(subject_name(subject));
  health_.filter_subject = filter_.empty() ? join_items(names, ",") : filter_;
  health_.healthy = false;
}

void JetStreamConsumer::bind() {
  // The consumer was created or checked by ensure_consumer(): pull from it directly.
  next_subject_ = "$JS.API.CONSUMER.MSG.NEXT." + options_.stream + "." + spec_.durable;
  natsInbox *inbox = nullptr;
  natsStatus status = natsInbox_Create(&inbox);
  if (status == NATS_OK) {
    inbox_prefix_ = std::string(inbox) + ".";
    natsInbox_Destroy(inbox);
    status = natsConnection_SubscribeSync(&sub_, connection_.direct(), (inbox_prefix_ + "*").c_str());
  }
  if (status == NATS_OK) // what we asked for is never dropped by the library
    status = natsSubscription_SetPendingLimits(sub_, -1, -1);
  if (status != NATS_OK)
    throw TransientStartError("jetstream bus: cannot subscribe for the messages of consumer '" +
                              spec_.durable + "': " + nats_error(status));
}

void JetStreamConsumer::start() {
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), ("js:" + spec_.durable).substr(0, 15).c_str());
    fetch_loop();
  });
}

void JetStreamConsumer::join() {
  if (thread_.joinable())
    thread_.join();
}

void JetStreamConsumer::close() {
  // Destroy only: since nats.c 3.4 this never deletes the durable consumer.
  if (sub_)
    natsSubscription_Destroy(sub_);
  sub_ = nullptr;
}

void JetStreamConsumer::acknowledge(natsMsg *msg, Acknowledgement kind) {
  acknowledge_reply(natsMsg_GetReply(msg), kind);
}

void JetStreamConsumer::acknowledge_reply(const char *reply, Acknowledgement kind) {
  // The delivery's reply subject takes the acknowledgement. Acks use the batching connection
  // (a batch's acks leave in one write); the rare naks and terms leave at once.
  static constexpr std::string_view nak_later = "-NAK {\"delay\":1000000000}"; // retry in 1 s
  const std::string_view body = kind == Acknowledgement::ack         ? std::string_view("+ACK")
                                : kind == Acknowledgement::nak_later ? nak_later
                                                                     : std::string_view("+TERM");
  natsStatus status = reply && *reply
                          ? natsConnection_Publish(kind == Acknowledgement::ack ? connection_.batching()
                                                                                : connection_.direct(),
                                                   reply, body.data(), static_cast<int>(body.size()))
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
std::chrono::milliseconds JetStreamConsumer::request_more() {
  const auto now = Clock::now();
  const auto lifetime = std::chrono::milliseconds(options_.consumers.fetch_wait_ms);
  const auto renew_before = lifetime / 4;
  const int batch = options_.consumers.fetch_batch;
  // fetch_batch 1 means one message at a time (strict sharing between processes of a durable):
  // no overlapping requests; one ends when served, on its 408, or a grace period after expiry.
  const bool one_at_a_time = batch == 1;
  const auto end_of = [&](const PullRequest &request) {
    return one_at_a_time ? request.expires_at + std::chrono::seconds(1) : request.expires_at;
  };
  const auto renew_at = [&](const PullRequest &request) {
    return one_at_a_time ? end_of(request) : request.expires_at - renew_before;
  };
  int credit = 0;
  auto renewal = now + lifetime;
  for (auto it = requests_.begin(); it != requests_.end();) {
    if (now >= end_of(it->second)) {
      it = requests_.erase(it);
      continue;
    }
    if (now < renew_at(it->second)) {
      credit += it->second.remaining;
      renewal = std::min(renewal, renew_at(it->second));
    }
    ++it;
  }
  if (credit <= batch / 2 || (!one_at_a_time && credit <= batch && requests_.size() < 2)) {
    const uint64_t id = ++next_request_;
    const int64_t expires_ns = int64_t(options_.consumers.fetch_wait_ms) * 1'000'000;
    const std::string request =
        "{\"batch\":" + std::to_string(batch) + ",\"expires\":" + std::to_string(expires_ns) + "}";
    const std::string reply = inbox_prefix_ + std::to_string(id);
    if (natsConnection_PublishRequest(connection_.direct(), next_subject_.c_str(), reply.c_str(),
                                      request.data(), static_cast<int>(request.size())) == NATS_OK) {
      requests_[id] = {batch, now + lifetime};
      renewal = std::min(renewal, renew_at(requests_[id]));
    } else {
      renewal = now + std::chrono::milliseconds(100); // try again soon
    }
  }
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::ceil<std::chrono::milliseconds>(renewal - Clock::now()));
}

void JetStreamConsumer::fetch_loop() {
  auto last_error_log = Clock::time_point{};
  std::vector<natsMsg *> batch;
  // Handled messages whose effects await their PubAcks. While more messages are already here,
  // the next batch is handled meanwhile (the round trip overlaps work); once none is waiting, or
  // enough effects are in flight, every answer is read and the messages acked or nak'd.
  std::vector<std::pair<natsMsg *, HandlerScope>> awaiting;
  size_t awaiting_effects = 0;
  const size_t max_awaiting_effects = static_cast<size_t>(std::max(1, options_.max_in_flight / 4));
  auto settle_awaiting = [&] {
    settle(awaiting);
    for (auto &[msg, scope] : awaiting)
      natsMsg_Destroy(msg);
    awaiting.clear();
    awaiting_effects = 0;
  };
  while (!connection_.stopping()) {
    if (!connection_.connected()) {
      requests_.clear(); // the server may have lost them: ask again once back
      settle_awaiting(); // their answers may still come; if not, they are nak'd
      connection_.wait_connected(Clock::now() + std::chrono::milliseconds(200));
      continue;
    }
    const auto wait = request_more();
    if (!awaiting.empty()) {
      int waiting_here = 0;
      natsSubscription_GetPending(sub_, &waiting_here, nullptr);
      if (waiting_here == 0 || awaiting_effects >= max_awaiting_effects) {
        settle_awaiting();
        continue;
      }
    }
    natsMsg *first = nullptr;
    if (natsSubscription_NextMsg(&first, sub_, wait.count()) != NATS_OK)
      continue;
    // Whatever else has arrived is handled in the same batch (its effects written together).
    batch.clear();
    batch.push_back(first);
    int queued = 0;
    natsSubscription_GetPending(sub_, &queued, nullptr);
    for (natsMsg *more = nullptr;
         queued-- > 0 && static_cast<int>(batch.size()) < options_.consumers.fetch_batch;)
      if (natsSubscription_NextMsg(&more, sub_, 1) == NATS_OK)
        batch.push_back(more);

    std::vector<natsMsg *> messages;
    bool refused = false;
    for (natsMsg *msg : batch) {
      const char *status = nullptr;
      if (natsMsg_GetDataLength(msg) == 0 && natsMsgHeader_Get(msg, "Status", &status) == NATS_OK) {
        // Sent to the request's own reply subject. 408: the request expired; 409: the server
        // ended it (e.g. max waiting exceeded, leadership change).
        const char *reply_to = natsMsg_GetSubject(msg);
        const size_t skip = std::min(inbox_prefix_.size(), std::strlen(reply_to));
        requests_.erase(std::strtoull(reply_to + skip, nullptr, 10));
        // Anything but an expiry (e.g. the consumer deleted) is not asked again at once.
        refused = refused || std::strncmp(status, "408", 3) != 0;
        if (std::strncmp(status, "408", 3) != 0 && std::strncmp(status, "404", 3) != 0 &&
            Clock::now() - last_error_log > std::chrono::seconds(5)) {
          last_error_log = Clock::now();
          const char *description = nullptr;
          natsMsgHeader_Get(msg, "Description", &description);
          log::warn(
              "jetstream.fetch_failed",
              {{"durable", spec_.durable}, {"status", status}, {"reason", description ? description : ""}});
        }
        natsMsg_Destroy(msg);
        continue;
      }
      // Messages carry their own subject, not the request's: the server fills requests in order.
      if (auto oldest = requests_.begin(); oldest != requests_.end() && --oldest->second.remaining <= 0)
        requests_.erase(oldest);
      messages.push_back(msg);
    }
    unacked_ += static_cast<int>(messages.size());
    // One message alone goes out at once; a batch writes its effects together (flushed by
    // settle()). While effects are awaited, later ones take the connection those took, so the
    // effects of one consumer reach the stream in the order they were published (two
    // connections give no order between them).
    const bool batched = awaiting.empty() ? messages.size() > 1 : awaiting.front().second.batched;
    for (natsMsg *msg : messages) {
      HandlerScope scope;
      scope.batched = batched;
      const Outcome outcome = deliver(msg, scope);
      if (outcome == Outcome::awaiting_effects) {
        awaiting_effects += scope.effects.size();
        awaiting.emplace_back(msg, std::move(scope));
      } else {
        if (outcome == Outcome::settled) // a deferred one counts until its settlement
          --unacked_;
        natsMsg_Destroy(msg);
      }
    }
    if (refused && messages.empty())
      connection_.pause(std::chrono::milliseconds(100));
  }
  settle_awaiting();
}

// Reads the PubAck (or failure) of every effect sent by this batch's handlers, then acks each
// message whose effects were all stored and nak's the others (redelivered; the same ids then).
void JetStreamConsumer::settle(std::vector<std::pair<natsMsg *, HandlerScope>> &awaiting) {
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
      natsConnection_FlushTimeout(connection_.batching(), options_.publish_timeout_ms);
    // One pass over this thread's inbox reads every answer of the batch.
    std::vector<std::optional<JetStreamPublisher::Answer>> answers = publisher_.collect(tokens, deadline);
    publisher_.release_slots(static_cast<int>(tokens.size()));

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
      next.publisher = &publisher_;
      next.batched = scope.batched;
      for (auto &[token, then] : continuations) {
        const auto &answer = answers[token - first];
        const KeyValue::Result result = !failure_of(token).empty() ? KeyValue::Result::unavailable
                                        : answer && answer->status == PublishStatus::duplicate
                                            ? KeyValue::Result::exists
                                            : KeyValue::Result::ok;
        HandlerScopeGuard guard(&next);
        try {
          then(result);
        } catch (const std::exception &e) {
          if (failure.empty())
            failure = std::string("a continuation failed: ") + e.what();
        } catch (...) { // whatever it throws, the message comes again; the fetch thread goes on
          if (failure.empty())
            failure = "a continuation failed";
        }
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
                {{"durable", spec_.durable},
                 {"reason", failures[i]},
                 {"effect", "the message is redelivered and its effects published again"}});
      acknowledge(msg, Acknowledgement::nak_later);
    }
    --unacked_;
  }
}

JetStreamConsumer::Outcome JetStreamConsumer::deliver(natsMsg *msg, HandlerScope &scope) {
  const char *subject_text = natsMsg_GetSubject(msg);
  const std::optional<Subject> subject = subject_from_name(subject_text ? subject_text : "");
  uint64_t delivered = 1, stream_sequence = 0;
  if (jsMsgMetaData *meta = nullptr; natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    delivered = std::max<uint64_t>(1, meta->NumDelivered);
    stream_sequence = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
  // A consumer spanning several first tokens reads the whole stream: skip what is not ours.
  if (!subject || !wanted_[static_cast<size_t>(*subject)]) {
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
    log::error("jetstream.poison_message", {{"durable", spec_.durable},
                                            {"subject", subject_text},
                                            {"stream_sequence", stream_sequence},
                                            {"msg_id", id ? id : ""},
                                            {"reason", e.what()}});
    acknowledge(msg, Acknowledgement::term);
    return Outcome::settled;
  }
  if (id)
    message.msg_id = id;

  if (options_.consumers.defer_handler_publishes)
    scope.publisher = &publisher_;
  // One pointer captured: the std::function keeps it inline (no allocation per message).
  struct {
    JetStreamConsumer *consumer;
    natsMsg *msg;
    std::shared_ptr<Settlement> settlement;
  } defer{this, msg, nullptr};
  std::shared_ptr<Settlement> &deferred = defer.settlement;
  Delivery delivery{message, delivered > 1, [d = &defer]() -> std::shared_ptr<Settlement> {
                      if (!d->settlement)
                        d->settlement =
                            std::make_shared<DeferredSettlement>(*d->consumer, natsMsg_GetReply(d->msg));
                      return d->settlement;
                    }};
  try {
    HandlerScopeGuard guard(scope.publisher ? &scope : nullptr);
    handler_(delivery);
  } catch (const std::exception &e) {
    log::error("jetstream.handler_failed",
               {{"durable", spec_.durable},
                {"subject", subject_text},
                {"stream_sequence", stream_sequence},
                {"delivery", delivered},
                {"reason", e.what()}},
               corr_id_of(message));
    publisher_.release_slots(static_cast<int>(scope.effects.size())); // effects already sent: answers ignored
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
      log::error("jetstream.deferred_with_effects", {{"durable", spec_.durable}});
      publisher_.release_slots(static_cast<int>(scope.effects.size()));
      deferred->stored(false);
    }
    return Outcome::deferred;
  }
  if (scope.failed) { // a deferred effect could not even be sent
    publisher_.release_slots(static_cast<int>(scope.effects.size()));
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

} // namespace th
