#include "pipeline/audit_stage.hpp"

#include "events/json_writer.hpp"
#include "observability/log.hpp"

namespace th {

AuditRecord audit_record_for(const Message &m) {
  AuditRecord r;
  describe_into(m, r);
  return r;
}

void describe_into(const Message &m, AuditRecord &r) {
  if (auto *a = std::get_if<AuditRecord>(&m.payload)) { // an audit.event is stored as it was sent
    r = *a;
    return;
  }
  // Assigned piece by piece so the strings keep their capacity from one message to the next.
  r.correlation_id = corr_id_of(m);
  write_json(m.payload, r.data_json);
  const auto id = [&](std::string_view type, const std::string &first) {
    r.event_type = type;
    r.event_id.assign(type).append(":").append(first);
  };
  const auto id2 = [&](std::string_view type, const std::string &first, const std::string &second) {
    id(type, first);
    r.event_id.append(":").append(second);
  };
  std::visit(
      [&](const auto &p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Signal>) {
          id("signal_published", p.corr_id);
          r.timestamp_ns = p.timestamp_ns;
          r.service = "gateway";
        } else if constexpr (std::is_same_v<T, OrderIntent>) {
          if (m.msg_id.empty())
            id2("decision_made", p.corr_id, p.agent_id);
          else
            id("decision_made", m.msg_id);
          r.timestamp_ns = p.timestamp_ns;
          r.service = p.agent_id;
        } else if constexpr (std::is_same_v<T, Rejection>) {
          if (m.msg_id.empty())
            id2("order_rejected", p.intent.corr_id, p.intent.agent_id);
          else
            id("order_rejected", m.msg_id);
          r.timestamp_ns = p.intent.timestamp_ns;
          r.service = "risk";
        } else if constexpr (std::is_same_v<T, Fill>) {
          id("fill_received", p.fill_id);
          r.timestamp_ns = p.fill_timestamp_ns;
          r.service = p.execution_venue;
        } else if constexpr (std::is_same_v<T, Reconcile>) {
          id("position_updated", p.reconcile_id);
          r.timestamp_ns = p.reconcile_timestamp_ns;
          r.service = "portfolio";
        }
      },
      m.payload);
}

void describe_receipt_into(const AuditRecord &published, TimeNs received_ns, AuditRecord &out) {
  out.event_type = "webhook_received";
  out.timestamp_ns = received_ns;
  out.event_id.assign(out.event_type).append(":").append(published.correlation_id);
  out.correlation_id = published.correlation_id;
  out.service = "gateway";
  out.data_json = published.data_json;
}

void AuditStage::handle(const Message &message) {
  // audit.event payloads go to the sinks as they are; the others are described once into a
  // reused record (this thread is the only caller).
  if (const auto *record = std::get_if<AuditRecord>(&message.payload)) {
    store(*record);
    return;
  }
  describe_into(message, scratch_);
  // A signal the gateway accepted stands for its webhook too: its receipt is recorded first.
  if (const auto *signal = std::get_if<Signal>(&message.payload); signal && signal->received_ns != 0) {
    describe_receipt_into(scratch_, signal->received_ns, receipt_);
    store(receipt_);
  }
  store(scratch_);
}

void AuditStage::store(const AuditRecord &record) {
  auto [it, added] = counted_.try_emplace(record.event_type, nullptr);
  if (added)
    it->second = &ctx_.metrics.audit_events.Add({{"event_type", record.event_type}});
  it->second->Increment();
  for (auto &sink : sinks_)
    if (sink->on_audit_event(record) != TH_OK)
      log::error("audit_sink_failed", {{"sink", sink->context().instance_id}, {"error", sink->error()}},
                 record.correlation_id);
}

} // namespace th
