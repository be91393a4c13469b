// Audit: every event on every subject becomes an AuditRecord (webhook_received and
// signal_published for a signal the gateway accepted; else signal_published,
// decision_made, order_rejected, fill_received, position_updated, or the audit.event as sent)
// and goes to every audit sink. Event ids are derived from the event's own ids, so a redelivered
// event is stored once by the sinks.
//
// Acknowledged means stored: a bus message is settled (JetStream: acked) only once every sink
// has its records durably. A sink that reports durability (ABI 1.1, TH_PLUGIN_FLAG_REPORTS_DURABLE)
// says so through durable_up_to(); for the others, on_audit_event() returning TH_OK does.
//
// Fails closed: a sink that cannot write (it reports TH_SINK_UNAVAILABLE, or a 1.0 sink's
// on_audit_event() fails) makes available() false until it writes again; the agent stage then
// rejects new intents (audit_unavailable) and /healthz answers 503. A 1.0 sink's failed event is
// retried here, in order, until it is stored: nothing handed to the stage is dropped.
#pragma once

#include "loader/plugin_instance.hpp"
#include "pipeline/stage_services.hpp"

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
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
  ~AuditStage() override;

  void add_sink(std::unique_ptr<PluginInstance> sink);
  const std::vector<std::unique_ptr<PluginInstance>> &instances() const { return sinks_; }

  // Bus handler for every subject.
  void handle(const Delivery &delivery);
  void handle(const Message &message) { handle(Delivery{message}); }

  // False while any sink cannot write.
  bool available() const { return unavailable_ == 0; }
  struct SinkState {
    std::string sink;
    bool available = true;
    std::string reason; // why not, when not
  };
  std::vector<SinkState> sink_states() const;
  // "audit sink 'x' unavailable: reason" for the first unavailable sink; empty when available.
  std::string unavailable_reason() const;

  // Shutdown: a failing 1.0 sink's retry loop gives up (its event is then not stored; on
  // JetStream the message is redelivered to the next process).
  void stop_retrying() { stopping_ = true; }

  th_status report_sink_state(const InstanceContext &, int32_t state, std::string_view reason) override;
  th_status durable_up_to(const InstanceContext &, uint64_t sequence) override;

private:
  struct Track {
    bool reports_durable = false;
    std::atomic<uint64_t> given{0};    // sequence of the last event handed to the sink
    std::atomic<uint64_t> accepted{0}; // ... of the last one it accepted (TH_OK)
    std::atomic<uint64_t> durable{0};  // what it reported durable
    bool available = true;             // under state_mutex_
    std::string reason;
    prometheus::Gauge *gauge = nullptr;
  };
  // A settled-later delivery: what each reporting sink must have durable first.
  struct Pending {
    std::vector<uint64_t> needed; // by sink index; 0 for sinks that do not report
    std::shared_ptr<Settlement> settlement;
  };

  // Returns false when the record could not be stored (shutdown while a sink was failing).
  bool store(const AuditRecord &record);
  Track *track_of(const InstanceContext &);
  void set_state(size_t index, bool available, std::string_view reason);
  void settle_durable(); // settles the pending deliveries every sink has durable

  std::vector<std::unique_ptr<PluginInstance>> sinks_;
  std::vector<std::unique_ptr<Track>> tracks_; // parallel to sinks_
  bool any_reports_durable_ = false;
  // audit_events_total by event type; handle() runs on one thread, so no lock.
  std::unordered_map<std::string, prometheus::Counter *> counted_;
  AuditRecord scratch_;
  AuditRecord receipt_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex state_mutex_;
  std::atomic<int> unavailable_{0};
  std::mutex pending_mutex_;
  std::deque<Pending> pending_;
};

} // namespace th
