#include "pipeline/audit_stage.hpp"

#include "events/json_codec.hpp"
#include "observability/log.hpp"

namespace th {

AuditRecord audit_record_for(const Message &m) {
  if (auto *a = std::get_if<AuditRecord>(&m.payload))
    return *a;
  AuditRecord r;
  r.correlation_id = corr_id_of(m);
  r.data_json = to_json(m.payload).dump();
  std::visit(
      [&](const auto &p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Signal>) {
          r.event_type = "signal_published";
          r.event_id = "signal_published:" + p.corr_id;
          r.timestamp_ns = p.timestamp_ns;
          r.service = "gateway";
        } else if constexpr (std::is_same_v<T, OrderIntent>) {
          r.event_type = "decision_made";
          r.event_id = "decision_made:" + (m.msg_id.empty() ? p.corr_id + ":" + p.agent_id : m.msg_id);
          r.timestamp_ns = p.timestamp_ns;
          r.service = p.agent_id;
        } else if constexpr (std::is_same_v<T, Rejection>) {
          r.event_type = "order_rejected";
          r.event_id =
              "order_rejected:" + (m.msg_id.empty() ? p.intent.corr_id + ":" + p.intent.agent_id : m.msg_id);
          r.timestamp_ns = p.intent.timestamp_ns;
          r.service = "risk";
        } else if constexpr (std::is_same_v<T, Fill>) {
          r.event_type = "fill_received";
          r.event_id = "fill_received:" + p.fill_id;
          r.timestamp_ns = p.fill_timestamp_ns;
          r.service = p.execution_venue;
        } else if constexpr (std::is_same_v<T, Reconcile>) {
          r.event_type = "position_updated";
          r.event_id = "position_updated:" + p.reconcile_id;
          r.timestamp_ns = p.reconcile_timestamp_ns;
          r.service = "portfolio";
        }
      },
      m.payload);
  return r;
}

void AuditStage::handle(const Message &message) {
  // audit.event payloads go to the sinks as they are; the others are described once into a
  // reused record (this thread is the only caller).
  const AuditRecord *record = std::get_if<AuditRecord>(&message.payload);
  if (!record) {
    scratch_ = audit_record_for(message);
    record = &scratch_;
  }
  auto [it, added] = counted_.try_emplace(record->event_type, nullptr);
  if (added) it->second = &ctx_.metrics.audit_events.Add({{"event_type", record->event_type}});
  it->second->Increment();
  for (auto &sink : sinks_)
    if (sink->on_audit_event(*record) != TH_OK)
      log::error("audit_sink_failed", {{"sink", sink->context().instance_id}, {"error", sink->error()}},
                 record->correlation_id);
}

} // namespace th
