#include "pipeline/execution_stage.hpp"

#include "events/c_view.hpp"
#include "events/json_codec.hpp"
#include "events/json_writer.hpp"
#include "observability/log.hpp"
#include "pipeline/agent_stage.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <random>

namespace th {
namespace {
thread_local const OrderIntent *current_intent = nullptr;
// While an order is handed over with a store, the fills its executor emits meanwhile (also
// published) are kept here for its hand-over record.
thread_local std::vector<Fill> *captured_fills = nullptr;

std::string handed_over_record(const std::vector<Fill> &fills) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto &f : fills)
    list.push_back(to_json(f));
  return nlohmann::json{{"v", 1}, {"state", "handed_over"}, {"fills", std::move(list)}}.dump();
}

std::string fill_msg_id(const Fill &fill) {
  return fill.corr_id + ":fill:" + fill.fill_id;
}
} // namespace

std::string process_attempt_prefix() {
  std::random_device random;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%08x%08x", random(), random());
  return hex;
}

std::string ExecutionStage::handing_over() {
  const std::string attempt = attempt_prefix_ + ":" + std::to_string(++attempts_);
  return nlohmann::json{{"v", 1}, {"state", "handing_over"}, {"attempt", attempt}}.dump();
}

bool ExecutionStage::unsent_here(const std::string &order_id, const std::string &record) {
  std::lock_guard lock(recent_mutex_);
  auto it = unsent_.find(order_id);
  if (it == unsent_.end() || it->second != record)
    return false;
  unsent_.erase(it);
  return true;
}

void ExecutionStage::handle(const Delivery &delivery) {
  handle(delivery.message);
}

void ExecutionStage::handle(const Message &message) {
  if (auto *signal = std::get_if<Signal>(&message.payload)) {
    if (signal->price)
      ctx_.portfolio.mark(signal->instrument, *signal->price);
    th_signal view = view_of(*signal);
    for (auto &e : executors_)
      if (e->has_on_signal() && e->on_signal(view) != TH_OK)
        log::error("executor_failed", {{"executor", e->context().instance_id}, {"error", e->error()}},
                   signal->corr_id);
    return;
  }
  if (auto *intent = std::get_if<OrderIntent>(&message.payload))
    on_intent(*intent);
}

KeyValue *ExecutionStage::order_store() {
  std::call_once(orders_once_, [&] {
    if (!orders_) // kept far beyond any redelivery (max_deliver x ack_wait)
      orders_ = ctx_.bus.key_value("orders", std::chrono::hours(24 * 7));
  }); // throws: tried again with the next intent
  return orders_.get();
}

void ExecutionStage::publish_sent(const OrderIntent &intent, const std::string &executor_id) {
  // One message per thread, refilled in place: its strings keep their capacity.
  thread_local Message sent{Subject::audit_event, AuditRecord{}, {}};
  auto &r = std::get<AuditRecord>(sent.payload);
  r.event_id.assign("order_sent:").append(intent.order_id);
  r.correlation_id = intent.corr_id;
  r.event_type = "order_sent";
  r.timestamp_ns = intent.timestamp_ns;
  r.service = executor_id;
  write_json(intent, r.data_json);
  sent.msg_id = r.event_id;
  publish(sent);
}

void ExecutionStage::resume(const OrderIntent &intent, const std::string &record,
                            const std::string &executor_id) {
  auto j = nlohmann::json::parse(record, nullptr, false);
  const std::string state = j.is_object() ? j.value("state", "") : "";
  publish_sent(intent, executor_id); // the same row: the sinks keep one
  if (state == "handed_over" && j.contains("fills") && j["fills"].is_array()) {
    // Its fills go out again (the bus and the sinks drop the copies they hold): at least once.
    size_t n = 0;
    for (const auto &f : j["fills"]) {
      Message m{Subject::executions_fill, fill_from_json(f), {}};
      m.msg_id = fill_msg_id(std::get<Fill>(m.payload));
      if (publish(m) != TH_OK)
        throw std::runtime_error("the bus refused a recorded fill of order " + intent.order_id);
      ++n;
    }
    log::info("order_already_sent",
              {{"order_id", intent.order_id},
               {"fills", n},
               {"effect", "not handed to the executor again; its recorded fills are published again"}},
              intent.corr_id);
    return;
  }
  // Handed over, outcome unknown (the process stopped inside the executor call): never resent.
  ++in_doubt_;
  log::error("order_in_doubt",
             {{"order_id", intent.order_id},
              {"executor", executor_id},
              {"reason", "handed to the executor before a restart or outage, outcome not recorded"},
              {"effect", "not sent again; check the order at the venue"}},
             intent.corr_id);
  Message m{Subject::audit_event, AuditRecord{}, {}};
  auto &r = std::get<AuditRecord>(m.payload);
  r.event_id = "order_in_doubt:" + intent.order_id;
  r.correlation_id = intent.corr_id;
  r.event_type = "order_in_doubt";
  r.timestamp_ns = ctx_.clock.now_ns();
  r.service = executor_id;
  write_json(intent, r.data_json);
  m.msg_id = r.event_id;
  publish(m);
}

void ExecutionStage::on_intent(const OrderIntent &given) {
  // An intent from a producer that predates order ids (a 1.0 trail read back at recovery, another
  // host version on a shared stream) gets the id of its agent's first intent for the signal.
  const OrderIntent *with_id = &given;
  thread_local OrderIntent completed;
  if (given.order_id.empty()) {
    completed = given;
    assign_order_id(completed, 1);
    with_id = &completed;
  }
  const OrderIntent &intent = *with_id;
  if (executors_.empty()) {
    log::warn("intent_unrouted", {{"reason", "no executor in this deployment"}}, intent.corr_id);
    return;
  }
  auto &executor = executors_.front();
  const std::string &executor_id = executor->context().instance_id;

  // At most once to the executor (issue 13 finding 15): the hand-over is recorded before the
  // call; an order already recorded is resumed from its record instead.
  KeyValue *store = order_store();
  const std::string key = store ? kv_key(intent.order_id) : std::string();
  if (store) {
    std::optional<std::string> known;
    {
      std::lock_guard lock(recent_mutex_);
      if (auto it = recent_.find(intent.order_id); it != recent_.end())
        known = it->second; // this process handed it over; its record may not be stored yet
    }
    if (known) {
      if (store->put(key, *known) != KeyValue::Result::ok)
        log::warn("order_record_not_stored", {{"order_id", intent.order_id}}, intent.corr_id);
      resume(intent, *known, executor_id);
      return;
    }
    const std::string record = handing_over();
    // Where the bus settles effects, the record is one and the call waits for its answer
    // without holding up the intents behind it (run at settlement, in intent order).
    auto held = std::make_shared<OrderIntent>(intent);
    if (auto sent = store->write_with_effects(
            key, record, true, [this, held, record](KeyValue::Result r) { recorded(*held, record, r); })) {
      if (*sent != KeyValue::Result::ok)
        recorded(intent, record, KeyValue::Result::unavailable); // throws
      return;
    }
    std::string existing;
    uint64_t revision = 0;
    const KeyValue::Result result = store->create(key, record, existing, revision);
    if (result == KeyValue::Result::exists && !unsent_here(intent.order_id, existing)) {
      resume(intent, existing, executor_id);
      return;
    }
    if (result != KeyValue::Result::ok && result != KeyValue::Result::exists)
      recorded(intent, record, KeyValue::Result::unavailable); // throws
  }
  hand_over(intent);
}

void ExecutionStage::recorded(const OrderIntent &intent, const std::string &record, KeyValue::Result result) {
  const std::string &executor_id = executors_.front()->context().instance_id;
  if (result == KeyValue::Result::exists) {
    std::string existing;
    uint64_t revision = 0;
    if (order_store()->get(kv_key(intent.order_id), existing, revision) != KeyValue::Result::ok)
      throw std::runtime_error("cannot read the record of order " + intent.order_id + " (delivered again)");
    if (!unsent_here(intent.order_id, existing)) {
      resume(intent, existing, executor_id);
      return;
    }
    // our own record, written though its answer was lost: the call was never made
  } else if (result != KeyValue::Result::ok) {
    // Not handed over: the intent is delivered again and handed over then.
    std::lock_guard lock(recent_mutex_);
    if (unsent_.size() >= 65536)
      unsent_.clear(); // bounded: an order this old is not redelivered
    unsent_[intent.order_id] = record;
    throw std::runtime_error("cannot record the hand-over of order " + intent.order_id);
  }
  hand_over(intent);
}

void ExecutionStage::hand_over(const OrderIntent &intent) {
  auto &executor = executors_.front();
  const std::string &executor_id = executor->context().instance_id;
  KeyValue *store = order_store();
  const std::string key = store ? kv_key(intent.order_id) : std::string();
  publish_sent(intent, executor_id);

  std::vector<Fill> fills;
  current_intent = &intent;
  captured_fills = store ? &fills : nullptr;
  th_status st = executor->on_order_intent(intent);
  current_intent = nullptr;
  captured_fills = nullptr;
  if (st != TH_OK)
    log::error("executor_failed",
               {{"executor", executor->context().instance_id}, {"error", executor->error()}}, intent.corr_id);
  if (!store)
    return;
  // The fills emitted during the call are part of the record: a redelivery (their publish may
  // have failed) publishes them again, without asking the executor.
  std::string record = handed_over_record(fills);
  {
    std::lock_guard lock(recent_mutex_);
    if (recent_order_.size() >= 65536) {
      recent_.erase(recent_order_.front());
      recent_order_.pop_front();
    }
    recent_.emplace(intent.order_id, record);
    recent_order_.push_back(intent.order_id);
  }
  // As an effect where the bus settles them (the intent acked once the record is stored, else
  // delivered again and resumed from recent_), otherwise a write here.
  const auto sent = store->write_with_effects(key, record, false);
  if ((sent ? *sent : store->put(key, record)) != KeyValue::Result::ok)
    log::warn("order_record_not_stored",
              {{"order_id", intent.order_id},
               {"effect", "kept in this process; a restart before it is stored finds the order in doubt"}},
              intent.corr_id);
}

std::vector<std::string> ExecutionStage::cancel_all() {
  std::vector<std::string> not_cancelled;
  for (auto &e : executors_) {
    const std::string &id = e->context().instance_id;
    if (!e->has_cancel_all()) {
      log::error(
          "executor_cancel_all_unsupported",
          {{"executor", id}, {"effect", "its working orders were not cancelled (no cancel_all, ABI 1.1)"}});
      not_cancelled.push_back(id);
    } else if (e->cancel_all() != TH_OK) {
      log::error("executor_cancel_all_failed", {{"executor", id}, {"error", e->error()}});
      not_cancelled.push_back(id);
    } else {
      log::warn("executor_orders_cancelled", {{"executor", id}, {"reason", "trading halted"}});
    }
  }
  return not_cancelled;
}

th_status ExecutionStage::emit_fill(const InstanceContext &c, const th_fill &in) {
  thread_local Message message{Subject::executions_fill, Fill{}, {}};
  auto &fill = std::get<Fill>(message.payload);
  assign_from(fill, in);
  if (current_intent) {
    if (fill.corr_id.empty())
      fill.corr_id = current_intent->corr_id;
    if (fill.agent_id.empty())
      fill.agent_id = current_intent->agent_id;
    if (fill.order_id.empty())
      fill.order_id = current_intent->order_id;
  }
  if (fill.execution_venue.empty())
    fill.execution_venue = c.plugin_name;
  if (fill.fill_timestamp_ns == 0)
    fill.fill_timestamp_ns = ctx_.clock.now_ns();
  if (fill.corr_id.empty() || fill.fill_id.empty() || fill.instrument.empty()) {
    log::warn("fill_invalid",
              {{"executor", c.instance_id}, {"reason", "corr_id, fill_id and instrument are required"}});
    return TH_INVALID_ARGUMENT;
  }
  message.msg_id = fill_msg_id(fill);
  ++fills_;
  if (captured_fills && current_intent)
    captured_fills->push_back(fill);
  return publish(message);
}

th_status ExecutionStage::emit_reconcile(const InstanceContext &, const th_reconcile &in) {
  thread_local Message message{Subject::executions_reconcile, Reconcile{}, {}};
  auto &rec = std::get<Reconcile>(message.payload);
  assign_from(rec, in);
  if (rec.corr_id.empty() || rec.reconcile_id.empty())
    return TH_INVALID_ARGUMENT;
  if (rec.reconcile_timestamp_ns == 0)
    rec.reconcile_timestamp_ns = ctx_.clock.now_ns();
  message.msg_id = rec.corr_id + ":reconcile:" + rec.reconcile_id;
  return publish(message);
}

} // namespace th
