#include "pipeline/agent_stage.hpp"

#include "events/c_view.hpp"
#include "events/json_codec.hpp"
#include "observability/log.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

namespace th {
namespace {
// The signal being dispatched on this thread, so intents emitted during on_signal() inherit its
// corr_id, and a counter of the intents the current agent emitted for it, which makes order ids
// and decision message ids stable across redeliveries (the same signal, the same agent, the same
// intents in the same order).
thread_local const Signal *current_signal = nullptr;
thread_local uint32_t intents_this_signal = 0;
// While set (a signal on a bus with a decision store), decisions are collected here, recorded,
// and only then published.
thread_local std::vector<Message> *collected_decisions = nullptr;

// The record of a signal's decisions: {"v":1,"decisions":[{"subject":..,"msg_id":..,"payload":..}]}.
std::string decisions_record(const std::vector<Message> &decisions) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto &m : decisions)
    list.push_back(
        {{"subject", subject_name(m.subject)}, {"msg_id", m.msg_id}, {"payload", to_json(m.payload)}});
  return nlohmann::json{{"v", 1}, {"decisions", std::move(list)}}.dump();
}

std::vector<Message> decisions_from_record(const std::string &text) {
  std::vector<Message> out;
  auto j = nlohmann::json::parse(text);
  for (const auto &d : j.at("decisions")) {
    auto subject = subject_from_name(d.at("subject").get<std::string>());
    if (!subject)
      throw std::runtime_error("decision record: unknown subject " + d.at("subject").dump());
    out.push_back(
        Message{*subject, payload_from_json(*subject, d.at("payload")), d.at("msg_id").get<std::string>()});
  }
  return out;
}
} // namespace

void assign_order_id(OrderIntent &intent, uint32_t n) {
  char digits[16];
  auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  intent.order_id.assign(intent.corr_id).append(".").append(intent.agent_id).append(".").append(digits, end);
}

void decision_msg_id(const OrderIntent &intent, uint32_t n, std::string &out) {
  char digits[16];
  auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out.assign(intent.corr_id).append(":decision:").append(intent.agent_id).append(":").append(digits, end);
}

AgentStage::AgentStage(StageContext ctx, RiskChain &risk)
    : StageServices(ctx), risk_(risk), agents_(std::make_shared<const Agents>()) {
  for (int32_t action = 0; action < static_cast<int32_t>(signals_received_.size()); ++action) {
    std::string_view name = signal_action_name(action);
    signals_received_[static_cast<size_t>(action)] = &ctx_.metrics.agent_signals_received.Add(
        {{"signal_type", name.empty() ? "unknown" : std::string(name)}});
  }
  // The rules the host itself rejects by (docs/contract.md) count from zero, before the first.
  for (const char *rule : {"audit_unavailable", "risk_error", "trading_halted", "trading_reducing"})
    ctx_.metrics.agent_risk_checks_failed.Add({{"reason", rule}});
}

AgentStage::Agent AgentStage::make(std::unique_ptr<PluginInstance> agent, InstrumentFilter filter) {
  auto &latency = ctx_.metrics.agent_decision_latency.Add({{"strategy", agent->context().instance_id}},
                                                          Metrics::latency_buckets());
  ctx_.metrics.agent_decisions_made.Add({{"strategy", agent->context().instance_id}}); // 0 until one
  return Agent{std::shared_ptr<PluginInstance>(std::move(agent)), std::move(filter), &latency};
}

void AgentStage::add_agent(std::unique_ptr<PluginInstance> agent, InstrumentFilter filter) {
  Agent a = make(std::move(agent), std::move(filter));
  std::lock_guard lock(changes_);
  auto next = std::make_shared<Agents>(*agents_.load());
  next->push_back(std::move(a));
  agents_.store(std::move(next));
}

std::shared_ptr<PluginInstance> AgentStage::replace_agent(const std::string &id,
                                                          std::unique_ptr<PluginInstance> replacement,
                                                          InstrumentFilter filter) {
  Agent a = make(std::move(replacement), std::move(filter));
  std::lock_guard lock(changes_);
  auto next = std::make_shared<Agents>(*agents_.load());
  for (auto &slot : *next)
    if (slot.instance->context().instance_id == id) {
      std::swap(slot, a);
      agents_.store(std::move(next));
      return std::move(a.instance);
    }
  return nullptr;
}

std::shared_ptr<PluginInstance> AgentStage::remove_agent(const std::string &id) {
  std::lock_guard lock(changes_);
  auto next = std::make_shared<Agents>(*agents_.load());
  for (auto it = next->begin(); it != next->end(); ++it)
    if (it->instance->context().instance_id == id) {
      auto instance = std::move(it->instance);
      next->erase(it);
      agents_.store(std::move(next));
      return instance;
    }
  return nullptr;
}

void AgentStage::retire(std::shared_ptr<PluginInstance> instance, std::chrono::milliseconds timeout) {
  if (!instance)
    return;
  // Snapshots still holding the instance are released when their signal is done.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (instance.use_count() > 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  if (instance->stop() != TH_OK)
    log::error("instance_stop_failed",
               {{"instance", instance->context().instance_id}, {"error", instance->error()}});
  instance.reset();
}

std::vector<std::string> AgentStage::agents_using(const std::string &plugin_name) const {
  std::vector<std::string> ids;
  for (auto &a : *agents_.load())
    if (a.instance->context().plugin_name == plugin_name)
      ids.push_back(a.instance->context().instance_id);
  return ids;
}

bool AgentStage::has_agent(const std::string &id) const {
  for (auto &a : *agents_.load())
    if (a.instance->context().instance_id == id)
      return true;
  return false;
}

std::vector<std::shared_ptr<PluginInstance>> AgentStage::instances() const {
  std::vector<std::shared_ptr<PluginInstance>> all;
  for (auto &a : *agents_.load())
    all.push_back(a.instance);
  return all;
}

KeyValue *AgentStage::decision_store() {
  // Kept far beyond any redelivery (max_deliver x ack_wait).
  std::call_once(decisions_once_,
                 [&] { decisions_ = ctx_.bus.key_value("decisions", std::chrono::hours(24 * 7)); });
  return decisions_.get(); // throws above: tried again with the next signal
}

void AgentStage::publish_recorded(const Signal &signal, const std::string &record) {
  std::vector<Message> decisions = decisions_from_record(record);
  log::info("decisions_reused",
            {{"decisions", decisions.size()},
             {"reason", "the signal was decided before: the recorded decisions are published again (the bus "
                        "drops the copies it holds), no agent is asked again"}},
            signal.corr_id);
  for (const auto &m : decisions)
    if (publish(m) != TH_OK)
      throw std::runtime_error("the bus refused a recorded decision of " + signal.corr_id);
}

void AgentStage::on_signal(const Signal &signal, bool redelivered) {
  // With a decision store (JetStream), a redelivered signal that was decided gets its first
  // decisions again (issue 13 finding 8), and a new signal's decisions are recorded before they
  // are published. Without one (embedded), decisions go out as they are made.
  KeyValue *store = decision_store();
  const std::string key = store ? kv_key(signal.corr_id) : std::string();
  if (store && redelivered) {
    std::string record;
    uint64_t revision = 0;
    switch (store->get(key, record, revision)) {
    case KeyValue::Result::ok:
      publish_recorded(signal, record);
      return;
    case KeyValue::Result::missing:
      break; // never decided (or nothing to decide): the agents see it
    default:
      throw std::runtime_error("cannot read the decisions of " + signal.corr_id + " (delivered again later)");
    }
  }
  std::vector<Message> decisions;
  collected_decisions = store ? &decisions : nullptr;
  struct Reset {
    ~Reset() { collected_decisions = nullptr; }
  } reset;
  dispatch(signal);
  collected_decisions = nullptr;
  if (decisions.empty())
    return; // nothing decided: a redelivery asks the agents again
  // On a bus that settles effects (JetStream, deferred publishes) the record is one more effect:
  // sent with the decisions, the signal acked once all are stored, else delivered again (whose
  // lookup then finds the record, or finds none and decides again under the same ids, which the
  // stream drops within its duplicate window). No round trip on this thread per signal.
  if (auto sent = store->write_with_effects(key, decisions_record(decisions), true)) {
    if (*sent != KeyValue::Result::ok)
      throw std::runtime_error("cannot record the decisions of " + signal.corr_id +
                               " (nothing was published; the signal is delivered again and decided then)");
    for (const auto &m : decisions)
      if (publish(m) != TH_OK)
        throw std::runtime_error("the bus refused a decision of " + signal.corr_id + " (delivered again)");
    return;
  }
  // Recorded only if nothing is recorded for the signal yet: a copy of it delivered again as a new
  // message (beyond the stream's duplicate window) gets the decisions recorded first.
  std::string existing;
  uint64_t revision = 0;
  switch (store->create(key, decisions_record(decisions), existing, revision)) {
  case KeyValue::Result::ok:
    break;
  case KeyValue::Result::exists:
    publish_recorded(signal, existing);
    return;
  default:
    throw std::runtime_error("cannot record the decisions of " + signal.corr_id +
                             " (nothing was published; the signal is delivered again and decided then)");
  }
  for (const auto &m : decisions)
    if (publish(m) != TH_OK)
      throw std::runtime_error("the bus refused a decision of " + signal.corr_id +
                               " (recorded: its redelivery publishes it)");
}

void AgentStage::dispatch(const Signal &signal) {
  size_t action = signal.action > 0 && signal.action < static_cast<int32_t>(signals_received_.size())
                      ? static_cast<size_t>(signal.action)
                      : 0;
  signals_received_[action]->Increment();
  if (signal.price)
    ctx_.portfolio.mark(signal.instrument, *signal.price);
  th_signal view = view_of(signal);
  for (auto &check : risk_.checks())
    if (check->has_on_signal())
      check->on_signal(view);
  std::shared_ptr<const Agents> agents = agents_.load();
  current_signal = &signal;
  for (auto &a : *agents) {
    if (!a.filter.matches(signal.instrument))
      continue;
    intents_this_signal = 0;
    auto start = std::chrono::steady_clock::now();
    th_status st = a.instance->on_signal(view);
    a.latency->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (st != TH_OK)
      log::error(
          "agent_failed",
          {{"agent", a.instance->context().instance_id}, {"status", st}, {"error", a.instance->error()}},
          signal.corr_id);
  }
  current_signal = nullptr;
}

uint32_t AgentStage::next_unsolicited(const OrderIntent &intent) {
  std::lock_guard lock(unsolicited_mutex_);
  // Numbered from 1001 so they never meet the numbers of the intents emitted inside on_signal().
  if (unsolicited_.size() > 100000)
    unsolicited_.clear(); // bounded: a corr_id this old is not redelivered
  return 1000 + ++unsolicited_[intent.corr_id + "\n" + intent.agent_id];
}

void AgentStage::on_fill(const Fill &fill) {
  for (auto &a : *agents_.load())
    if (a.instance->context().instance_id == fill.agent_id && a.instance->has_on_fill() &&
        a.instance->on_fill(fill) != TH_OK)
      log::error("plugin_on_fill_failed", {{"instance", fill.agent_id}, {"error", a.instance->error()}},
                 fill.corr_id);
}

std::optional<Verdict> AgentStage::trading_verdict(const OrderIntent &intent) const {
  const int32_t state = ctx_.trading ? ctx_.trading->get() : TH_TRADING_ACTIVE;
  if (state == TH_TRADING_ACTIVE)
    return std::nullopt;
  if (state != TH_TRADING_REDUCING)
    return Verdict{false, "trading_halted",
                   "trading is halted: no intent passes (POST /admin/trading-state)"};
  // Reducing: the intent must move the agent's position towards zero without crossing it.
  const double position = ctx_.portfolio.position(intent.agent_id, intent.instrument).quantity;
  const double signed_quantity = intent.side == TH_SIDE_BUY ? intent.quantity : -intent.quantity;
  const bool reduces = position != 0 && (position > 0) != (signed_quantity > 0) &&
                       std::abs(signed_quantity) <= std::abs(position) + 1e-9;
  if (reduces)
    return std::nullopt;
  char text[160];
  std::snprintf(text, sizeof text,
                "trading is reducing: only position-reducing intents pass (position %g, %s %g)", position,
                intent.side == TH_SIDE_BUY ? "buy" : "sell", intent.quantity);
  return Verdict{false, "trading_reducing", text};
}

th_status AgentStage::emit_order_intent(const InstanceContext &c, const th_order_intent &in) {
  thread_local Message message{Subject::decisions_order_intent, OrderIntent{}, {}};
  thread_local Message rejected{Subject::decisions_rejected, Rejection{}, {}};
  auto &intent = std::get<OrderIntent>(message.payload);
  assign_from(intent, in);
  intent.agent_id = c.instance_id;
  if (intent.corr_id.empty() && current_signal)
    intent.corr_id = current_signal->corr_id;
  if (intent.strategy.empty())
    intent.strategy = c.plugin_name;
  if (intent.timestamp_ns == 0)
    intent.timestamp_ns = ctx_.clock.now_ns();
  if (intent.corr_id.empty() || intent.instrument.empty() || intent.side == 0 || intent.order_type == 0) {
    log::warn("intent_invalid",
              {{"agent", c.instance_id}, {"reason", "corr_id, instrument, side and order_type are required"}},
              intent.corr_id);
    return TH_INVALID_ARGUMENT;
  }
  // Outside on_signal() (a strategy's own thread, on_fill) the number counts per corr_id and
  // agent in this process instead.
  uint32_t n = current_signal && current_signal->corr_id == intent.corr_id ? ++intents_this_signal
                                                                           : next_unsolicited(intent);
  assign_order_id(intent, n);

  // Fail closed: an intent nobody can audit is not traded (its rejection is held by the sinks).
  // Then the operator's trading state, before the risk chain.
  Verdict verdict;
  if (audit_ && !audit_->available())
    verdict = Verdict{false, "audit_unavailable", audit_->unavailable_reason()};
  else if (auto gate = trading_verdict(intent))
    verdict = std::move(*gate);
  else
    verdict = risk_.check(intent);
  if (!verdict.approved) {
    auto &r = std::get<Rejection>(rejected.payload);
    r.intent = intent;
    r.rule = verdict.rule;
    r.reason = verdict.reason;
    decision_msg_id(intent, n, rejected.msg_id); // the same id as its approval would have had
    ++rejections_;
    ctx_.metrics.agent_risk_checks_failed.Add({{"reason", verdict.rule}}).Increment();
    log::info("order_rejected",
              {{"agent", c.instance_id}, {"rule", verdict.rule}, {"reason", verdict.reason}}, intent.corr_id);
    return decide(rejected);
  }
  decision_msg_id(intent, n, message.msg_id);
  ++intents_;
  // `strategy` is the agent id, as in agent_decision_latency_seconds (docs/contract.md).
  ctx_.metrics.agent_decisions_made.Add({{"strategy", intent.agent_id}}).Increment();
  return decide(message);
}

th_status AgentStage::decide(const Message &decision) {
  if (collected_decisions && current_signal && corr_id_of(decision) == current_signal->corr_id) {
    collected_decisions->push_back(decision); // published by on_signal() once recorded
    return TH_OK;
  }
  return publish(decision);
}

} // namespace th
