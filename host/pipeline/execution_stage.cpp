#include "pipeline/execution_stage.hpp"

#include "events/c_view.hpp"
#include "events/json_writer.hpp"
#include "observability/log.hpp"

namespace th {
namespace {
thread_local const OrderIntent *current_intent = nullptr;
} // namespace

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

void ExecutionStage::on_intent(const OrderIntent &intent) {
  if (executors_.empty()) {
    log::warn("intent_unrouted", {{"reason", "no executor in this deployment"}}, intent.corr_id);
    return;
  }
  auto &executor = executors_.front();
  // One message per thread, refilled in place: its strings keep their capacity.
  thread_local Message sent{Subject::audit_event, AuditRecord{}, {}};
  auto &r = std::get<AuditRecord>(sent.payload);
  const std::string &executor_id = executor->context().instance_id;
  r.event_id.assign("order_sent:")
      .append(intent.corr_id)
      .append(":")
      .append(intent.agent_id)
      .append(":")
      .append(executor_id);
  r.correlation_id = intent.corr_id;
  r.event_type = "order_sent";
  r.timestamp_ns = intent.timestamp_ns;
  r.service = executor_id;
  write_json(intent, r.data_json);
  sent.msg_id = r.event_id;
  publish(sent);

  current_intent = &intent;
  th_status st = executor->on_order_intent(intent);
  current_intent = nullptr;
  if (st != TH_OK)
    log::error("executor_failed",
               {{"executor", executor->context().instance_id}, {"error", executor->error()}}, intent.corr_id);
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
  message.msg_id = fill.corr_id + ":fill:" + fill.fill_id;
  ++fills_;
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
