// The events that move through the pipeline, as the host holds them. Field names follow
// docs/contract.md; json_codec.hpp maps them to the wire, c_view.hpp to the plugin ABI.
#pragma once

#include <tradehost/plugin.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace th {

// Nanoseconds since the Unix epoch, UTC.
using TimeNs = int64_t;

struct Signal {
  std::string corr_id;
  std::string parent_corr_id;
  std::string instrument;
  int32_t action = 0; // TH_SIGNAL_*
  double strength = 0;
  std::optional<double> price;
  TimeNs timestamp_ns = 0;
  std::string source;
  std::string extra_json; // JSON object of unmodelled fields (metadata, unknown), or empty
  // When the gateway accepted the webhook ("received_at"); 0 for a signal that did not come
  // through the gateway (replay). The audit stage records webhook_received from it.
  TimeNs received_ns = 0;
};

struct RiskParams {
  std::optional<double> max_position;
  std::optional<double> stop_loss;
  std::optional<double> take_profit;
  std::optional<double> max_slippage_bps;
};

struct OrderIntent {
  std::string corr_id;
  std::string parent_corr_id;
  std::string agent_id;
  // The host's client order id, "{corr_id}.{agent_id}.{n}" (contract v1.1 addition): assigned by
  // the agent stage, unique per agent and intent, the same when the signal is redelivered.
  std::string order_id;
  std::string instrument;
  int32_t side = 0;          // TH_SIDE_*
  int32_t order_type = 0;    // TH_ORDER_*
  int32_t time_in_force = 0; // TH_TIF_*, 0 = DAY
  double quantity = 0;
  std::optional<double> price_limit;
  std::optional<double> stop_price;
  TimeNs timestamp_ns = 0;
  std::string strategy;
  RiskParams risk_params;
  std::string extra_json;
};

// decisions.rejected: the intent plus why the risk stage refused it.
struct Rejection {
  OrderIntent intent;
  std::string rule;   // machine label, e.g. "max_position"
  std::string reason; // human text
};

struct Fees {
  double commission = 0;
  double exchange_fee = 0;
  double regulatory_fee = 0;
};

struct Fill {
  std::string corr_id;
  std::string parent_corr_id;
  std::string fill_id;
  std::string order_id;
  std::string agent_id;
  std::string instrument;
  int32_t side = 0;        // TH_SIDE_*
  int32_t fill_status = 0; // TH_FILL_*
  double quantity_filled = 0;
  std::optional<double> quantity_requested;
  double avg_fill_price = 0;
  TimeNs fill_timestamp_ns = 0;
  std::string rejection_reason;
  std::string execution_venue;
  Fees fees;
  std::optional<double> slippage_bps;
  std::string extra_json;
};

struct Reconcile {
  std::string corr_id;
  std::string parent_corr_id;
  std::string reconcile_id;
  std::string agent_id;
  std::string account_id;
  std::string instrument;
  double position_delta = 0;
  double new_position = 0;
  double avg_entry_price = 0;
  double realized_pnl = 0;
  double unrealized_pnl = 0;
  TimeNs reconcile_timestamp_ns = 0;
  std::string extra_json;
};

// audit.event: the unchained envelope; sinks add hash, previous_hash and chain_position.
struct AuditRecord {
  std::string event_id;
  std::string correlation_id;
  std::string event_type;
  TimeNs timestamp_ns = 0;
  std::string service;
  std::string data_json; // JSON object
};

enum class Subject : uint8_t {
  signals_normalized,
  decisions_order_intent,
  decisions_rejected,
  executions_fill,
  executions_reconcile,
  audit_event,
};
inline constexpr size_t subject_count = 6;

std::string_view subject_name(Subject s);                   // "signals.normalized", ...
std::optional<Subject> subject_from_name(std::string_view); // inverse

using Payload = std::variant<Signal, OrderIntent, Rejection, Fill, Reconcile, AuditRecord>;

// One event on the bus. Copy-assigning a Message into a slot that holds the same payload type
// reuses the slot's string capacity, which is how the bus avoids per-event allocation.
struct Message {
  Subject subject = Subject::signals_normalized;
  Payload payload;
  // De-duplication id (JetStream Nats-Msg-Id): derived from corr_id and stage so that a
  // retried publish of the same effect is dropped. Empty on the embedded bus is fine.
  std::string msg_id;
};

// The corr_id every payload carries.
const std::string &corr_id_of(const Message &m);

} // namespace th
