#include "pipeline/agent_stage.hpp"

#include "events/c_view.hpp"
#include "events/json_codec.hpp"
#include "observability/log.hpp"

#include <chrono>

namespace th {
namespace {
// The signal being dispatched on this thread, so intents emitted during on_signal() inherit its
// corr_id, and a per-signal counter that makes intent ids stable across redeliveries.
thread_local const Signal *current_signal = nullptr;
thread_local uint32_t intents_this_signal = 0;
} // namespace

void AgentStage::add_agent(std::unique_ptr<PluginInstance> agent, InstrumentFilter filter) {
  auto &latency = ctx_.metrics.agent_decision_latency.Add({{"strategy", agent->context().instance_id}},
                                                         Metrics::latency_buckets());
  agents_.push_back({agent.get(), std::move(filter), &latency});
  instances_.push_back(std::move(agent));
}

void AgentStage::on_signal(const Signal &signal) {
  ctx_.metrics.agent_signals_received.Add({{"signal_type", std::string(signal_action_name(signal.action))}}).Increment();
  if (signal.price) ctx_.portfolio.mark(signal.instrument, *signal.price);
  th_signal view = view_of(signal);
  for (auto &check : risk_.checks())
    if (check->has_on_signal()) check->on_signal(view);
  current_signal = &signal;
  intents_this_signal = 0;
  for (auto &a : agents_) {
    if (!a.filter.matches(signal.instrument)) continue;
    auto start = std::chrono::steady_clock::now();
    th_status st = a.instance->on_signal(view);
    a.latency->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (st != TH_OK)
      log::error("agent_failed",
                 {{"agent", a.instance->context().instance_id}, {"status", st}, {"error", a.instance->error()}},
                 signal.corr_id);
  }
  current_signal = nullptr;
}

th_status AgentStage::emit_order_intent(const InstanceContext &c, const th_order_intent &in) {
  thread_local Message message{Subject::decisions_order_intent, OrderIntent{}, {}};
  thread_local Message rejected{Subject::decisions_rejected, Rejection{}, {}};
  auto &intent = std::get<OrderIntent>(message.payload);
  assign_from(intent, in);
  intent.agent_id = c.instance_id;
  if (intent.corr_id.empty() && current_signal) intent.corr_id = current_signal->corr_id;
  if (intent.strategy.empty()) intent.strategy = c.plugin_name;
  if (intent.timestamp_ns == 0) intent.timestamp_ns = ctx_.clock.now_ns();
  if (intent.corr_id.empty() || intent.instrument.empty() || intent.side == 0 || intent.order_type == 0) {
    log::warn("intent_invalid", {{"agent", c.instance_id}, {"reason", "corr_id, instrument, side and order_type are required"}},
              intent.corr_id);
    return TH_INVALID_ARGUMENT;
  }
  uint32_t n = current_signal ? ++intents_this_signal : 0;
  std::string id_suffix = c.instance_id + ":" + std::to_string(n);

  Verdict verdict = risk_.check(intent);
  if (!verdict.approved) {
    auto &r = std::get<Rejection>(rejected.payload);
    r.intent = intent;
    r.rule = verdict.rule;
    r.reason = verdict.reason;
    rejected.msg_id = intent.corr_id + ":rejected:" + id_suffix;
    ++rejections_;
    ctx_.metrics.agent_risk_checks_failed.Add({{"reason", verdict.rule}}).Increment();
    log::info("order_rejected", {{"agent", c.instance_id}, {"rule", verdict.rule}, {"reason", verdict.reason}},
              intent.corr_id);
    return publish(rejected);
  }
  message.msg_id = intent.corr_id + ":intent:" + id_suffix;
  ++intents_;
  ctx_.metrics.agent_decisions_made.Add({{"strategy", intent.strategy}}).Increment();
  return publish(message);
}

} // namespace th
