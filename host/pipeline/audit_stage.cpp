#include "pipeline/audit_stage.hpp"

#include "events/json_writer.hpp"
#include "observability/log.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

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

AuditStage::~AuditStage() = default;

void AuditStage::add_sink(std::unique_ptr<PluginInstance> sink) {
  auto track = std::make_unique<Track>();
  track->reports_durable = sink->reports_durable();
  track->gauge = &ctx_.metrics.audit_sink_available.Add({{"sink", sink->context().instance_id}});
  track->gauge->Set(1);
  any_reports_durable_ = any_reports_durable_ || track->reports_durable;
  sinks_.push_back(std::move(sink));
  tracks_.push_back(std::move(track));
}

void AuditStage::handle(const Delivery &delivery) {
  const Message &message = delivery.message;
  bool stored = true;
  // audit.event payloads go to the sinks as they are; the others are described once into a
  // reused record (this thread is the only caller).
  if (const auto *record = std::get_if<AuditRecord>(&message.payload)) {
    stored = store(*record);
  } else {
    describe_into(message, scratch_);
    // A signal the gateway accepted stands for its webhook too: its receipt is recorded first.
    if (const auto *signal = std::get_if<Signal>(&message.payload); signal && signal->received_ns != 0) {
      describe_receipt_into(scratch_, signal->received_ns, receipt_);
      stored = store(receipt_);
    }
    stored = stored && store(scratch_);
  }
  if (!delivery.defer)
    return; // the embedded buses: nothing to acknowledge
  if (!stored) {
    delivery.defer()->stored(false);
    return;
  }
  if (!any_reports_durable_)
    return; // every sink stored it before returning: the bus acks when this returns
  Pending p;
  p.needed.resize(tracks_.size());
  bool waiting = false;
  for (size_t i = 0; i < tracks_.size(); ++i)
    if (tracks_[i]->reports_durable) {
      p.needed[i] = tracks_[i]->accepted;
      waiting = waiting || p.needed[i] > tracks_[i]->durable;
    }
  if (!waiting)
    return;
  p.settlement = delivery.defer();
  {
    std::lock_guard lock(pending_mutex_);
    pending_.push_back(std::move(p));
  }
  settle_durable(); // the sinks may have reported meanwhile
}

bool AuditStage::store(const AuditRecord &record) {
  auto [it, added] = counted_.try_emplace(record.event_type, nullptr);
  if (added)
    it->second = &ctx_.metrics.audit_events.Add({{"event_type", record.event_type}});
  it->second->Increment();
  for (size_t i = 0; i < sinks_.size(); ++i) {
    auto &sink = *sinks_[i];
    Track &track = *tracks_[i];
    auto pause = std::chrono::milliseconds(50);
    for (;;) {
      const uint64_t sequence = ++track.given;
      th_status status = sink.on_audit_event(record, sequence);
      if (status == TH_OK) {
        track.accepted = sequence;
        if (!track.reports_durable && unavailable_ > 0) // a 1.0 sink's success ends its outage
          set_state(i, true, "");
        break;
      }
      if (status == TH_INVALID_ARGUMENT) { // never storable: retrying cannot help
        log::error("audit_sink_failed",
                   {{"sink", sink.context().instance_id},
                    {"event_id", record.event_id},
                    {"error", sink.error()},
                    {"effect", "event refused by the sink as invalid"}},
                   record.correlation_id);
        break;
      }
      // Cannot store now: hold the event here, fail closed meanwhile, and retry it.
      set_state(i, false, sink.error());
      if (stopping_) {
        log::error(
            "audit_event_not_stored",
            {{"sink", sink.context().instance_id}, {"event_id", record.event_id}, {"error", sink.error()}},
            record.correlation_id);
        return false;
      }
      std::this_thread::sleep_for(pause); // a backoff between attempts, not a synchronisation
      pause = std::min(pause * 2, std::chrono::milliseconds(2000));
    }
  }
  return true;
}

AuditStage::Track *AuditStage::track_of(const InstanceContext &context) {
  for (size_t i = 0; i < sinks_.size(); ++i)
    if (&sinks_[i]->context() == &context)
      return tracks_[i].get();
  return nullptr;
}

void AuditStage::set_state(size_t index, bool available, std::string_view reason) {
  Track &track = *tracks_[index];
  const std::string &sink = sinks_[index]->context().instance_id;
  std::lock_guard lock(state_mutex_);
  if (track.available == available && (available || track.reason == reason))
    return;
  const bool changed = track.available != available;
  track.available = available;
  track.reason = available ? "" : std::string(reason);
  if (!changed)
    return; // a new reason for the same outage: shown in /healthz, not logged again
  track.gauge->Set(available ? 1 : 0);
  if (available) {
    --unavailable_;
    log::info("audit_sink_available", {{"sink", sink}, {"effect", "intents are accepted again"}});
  } else {
    ++unavailable_;
    log::error("audit_sink_unavailable",
               {{"sink", sink},
                {"reason", track.reason},
                {"effect", "new intents are rejected (audit_unavailable) until the sink writes again"}});
  }
}

th_status AuditStage::report_sink_state(const InstanceContext &context, int32_t state,
                                        std::string_view reason) {
  for (size_t i = 0; i < sinks_.size(); ++i)
    if (&sinks_[i]->context() == &context) {
      set_state(i, state == TH_SINK_WRITABLE, reason);
      return TH_OK;
    }
  return TH_UNSUPPORTED; // not one of this stage's sinks
}

th_status AuditStage::durable_up_to(const InstanceContext &context, uint64_t sequence) {
  Track *track = track_of(context);
  if (!track || !track->reports_durable)
    return TH_UNSUPPORTED;
  if (sequence > track->given)
    return TH_INVALID_ARGUMENT;
  uint64_t seen = track->durable;
  while (seen < sequence && !track->durable.compare_exchange_weak(seen, sequence)) {
  }
  settle_durable();
  return TH_OK;
}

void AuditStage::settle_durable() {
  std::vector<std::shared_ptr<Settlement>> done;
  {
    std::lock_guard lock(pending_mutex_);
    while (!pending_.empty()) {
      const Pending &front = pending_.front();
      bool durable = true;
      for (size_t i = 0; i < tracks_.size() && durable; ++i)
        durable = front.needed[i] <= tracks_[i]->durable;
      if (!durable)
        break;
      done.push_back(std::move(pending_.front().settlement));
      pending_.pop_front();
    }
  }
  for (auto &settlement : done) // acks leave outside the lock
    settlement->stored(true);
}

std::vector<AuditStage::SinkState> AuditStage::sink_states() const {
  std::vector<SinkState> out;
  std::lock_guard lock(state_mutex_);
  for (size_t i = 0; i < sinks_.size(); ++i)
    out.push_back({sinks_[i]->context().instance_id, tracks_[i]->available, tracks_[i]->reason});
  return out;
}

std::string AuditStage::unavailable_reason() const {
  for (const auto &s : sink_states())
    if (!s.available)
      return "audit sink '" + s.sink + "' unavailable: " + s.reason;
  return "";
}

} // namespace th
