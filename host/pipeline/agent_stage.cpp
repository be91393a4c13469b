#include "pipeline/agent_stage.hpp"

#include "events/c_view.hpp"
#include "events/json_codec.hpp"
#include "observability/log.hpp"

#include <chrono>
#include <thread>

namespace th {
namespace {
// The signal being dispatched on this thread, so intents emitted during on_signal() inherit its
// corr_id, and a per-signal counter that makes intent ids stable across redeliveries.
thread_local const Signal *current_signal = nullptr;
thread_local uint32_t intents_this_signal = 0;
} // namespace

AgentStage::AgentStage(StageContext ctx, RiskChain &risk)
    : StageServices(ctx), risk_(risk), agents_(std::make_shared<const Agents>()) {
  for (int32_t action = 0; action < static_cast<int32_t>(signals_received_.size()); ++action) {
    std::string_view name = signal_action_name(action);
    signals_received_[static_cast<size_t>(action)] = &ctx_.metrics.agent_signals_received.Add(
        {{"signal_type", name.empty() ? "unknown" : std::string(name)}});
  }
}

AgentStage::Agent AgentStage::make(std::unique_ptr<PluginInstance> agent, InstrumentFilter filter) {
  auto &latency = ctx_.metrics.agent_decision_latency.Add({{"strategy", agent->context().instance_id}},
                                                          Metrics::latency_buckets());
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

void AgentStage::on_signal(const Signal &signal) {
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
  intents_this_signal = 0;
  for (auto &a : *agents) {
    if (!a.filter.matches(signal.instrument))
      continue;
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

void AgentStage::on_fill(const Fill &fill) {
  for (auto &a : *agents_.load())
    if (a.instance->context().instance_id == fill.agent_id && a.instance->has_on_fill() &&
        a.instance->on_fill(fill) != TH_OK)
      log::error("plugin_on_fill_failed", {{"instance", fill.agent_id}, {"error", a.instance->error()}},
                 fill.corr_id);
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
  uint32_t n = current_signal ? ++intents_this_signal : 0;
  std::string id_suffix = c.instance_id + ":" + std::to_string(n);

  // Fail closed: an intent nobody can audit is not traded (its rejection is held by the sinks).
  Verdict verdict = audit_ && !audit_->available()
                        ? Verdict{false, "audit_unavailable", audit_->unavailable_reason()}
                        : risk_.check(intent);
  if (!verdict.approved) {
    auto &r = std::get<Rejection>(rejected.payload);
    r.intent = intent;
    r.rule = verdict.rule;
    r.reason = verdict.reason;
    rejected.msg_id = intent.corr_id + ":rejected:" + id_suffix;
    ++rejections_;
    ctx_.metrics.agent_risk_checks_failed.Add({{"reason", verdict.rule}}).Increment();
    log::info("order_rejected",
              {{"agent", c.instance_id}, {"rule", verdict.rule}, {"reason", verdict.reason}}, intent.corr_id);
    return publish(rejected);
  }
  message.msg_id = intent.corr_id + ":intent:" + id_suffix;
  ++intents_;
  ctx_.metrics.agent_decisions_made.Add({{"strategy", intent.strategy}}).Increment();
  return publish(message);
}

} // namespace th
