// Audit: every event on every subject becomes an AuditRecord (webhook_received and
// signal_published for a signal the gateway accepted; else signal_published,
// decision_made, order_rejected, fill_received, position_updated, or the audit.event as sent)
// and goes to every audit sink. Event ids are derived from the event's own ids, so a redelivered
// event is stored once by the sinks.
#pragma once

#include "loader/plugin_instance.hpp"
#include "pipeline/stage_services.hpp"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace th {

// The audit record for a bus message (exposed for tests and the replay output).
AuditRecord audit_record_for(const Message &m);
// The same into `out`, reusing its strings' capacity (the audit stage's per-message path).
void describe_into(const Message &m, AuditRecord &out);
// The webhook_received record for a signal the gateway accepted (received at `received_ns`), from
// its signal_published record: same data and corr_id.
void describe_receipt_into(const AuditRecord &published, TimeNs received_ns, AuditRecord &out);

class AuditStage : public StageServices {
public:
  using StageServices::StageServices;

  void add_sink(std::unique_ptr<PluginInstance> sink) { sinks_.push_back(std::move(sink)); }
  const std::vector<std::unique_ptr<PluginInstance>> &instances() const { return sinks_; }

  // Bus handler for every subject.
  void handle(const Message &message);

private:
  void store(const AuditRecord &record);

  std::vector<std::unique_ptr<PluginInstance>> sinks_;
  // audit_events_total by event type; handle() runs on one thread, so no lock.
  std::unordered_map<std::string, prometheus::Counter *> counted_;
  AuditRecord scratch_;
  AuditRecord receipt_;
};

} // namespace th
