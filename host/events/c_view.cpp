#include "events/c_view.hpp"

namespace th {
namespace {

// Copies a view into a host string, reusing its capacity. A NULL pointer with a non-zero length
// (a broken plugin) reads as empty rather than crashing.
void assign(std::string &out, const th_str &in) {
  if (in.ptr && in.len)
    out.assign(in.ptr, in.len);
  else
    out.clear();
}

std::optional<double> optional_if(bool present, double value) {
  return present ? std::optional<double>(value) : std::nullopt;
}

} // namespace

// Shorthand for "the writer's struct reaches this field".
#define REACHES(in, type, field) TH_HAS_FIELD(&(in), type, field)

th_signal view_of(const Signal &s) {
  th_signal v{};
  v.struct_size = sizeof v;
  v.flags = s.price ? TH_SIGNAL_HAS_PRICE : 0u;
  v.corr_id = view_of(s.corr_id);
  v.parent_corr_id = view_of(s.parent_corr_id);
  v.instrument = view_of(s.instrument);
  v.action = s.action;
  v.strength = s.strength;
  v.price = s.price.value_or(0);
  v.timestamp_ns = s.timestamp_ns;
  v.source = view_of(s.source);
  v.extra_json = view_of(s.extra_json);
  return v;
}

th_order_intent view_of(const OrderIntent &o) {
  th_order_intent v{};
  v.struct_size = sizeof v;
  uint32_t flags = 0;
  if (o.price_limit)
    flags |= TH_INTENT_HAS_PRICE_LIMIT;
  if (o.stop_price)
    flags |= TH_INTENT_HAS_STOP_PRICE;
  if (o.risk_params.max_position)
    flags |= TH_INTENT_HAS_MAX_POSITION;
  if (o.risk_params.stop_loss)
    flags |= TH_INTENT_HAS_STOP_LOSS;
  if (o.risk_params.take_profit)
    flags |= TH_INTENT_HAS_TAKE_PROFIT;
  if (o.risk_params.max_slippage_bps)
    flags |= TH_INTENT_HAS_MAX_SLIPPAGE;
  v.flags = flags;
  v.corr_id = view_of(o.corr_id);
  v.parent_corr_id = view_of(o.parent_corr_id);
  v.agent_id = view_of(o.agent_id);
  v.instrument = view_of(o.instrument);
  v.side = o.side;
  v.order_type = o.order_type;
  v.time_in_force = o.time_in_force;
  v.quantity = o.quantity;
  v.price_limit = o.price_limit.value_or(0);
  v.stop_price = o.stop_price.value_or(0);
  v.timestamp_ns = o.timestamp_ns;
  v.strategy = view_of(o.strategy);
  v.max_position = o.risk_params.max_position.value_or(0);
  v.stop_loss = o.risk_params.stop_loss.value_or(0);
  v.take_profit = o.risk_params.take_profit.value_or(0);
  v.max_slippage_bps = o.risk_params.max_slippage_bps.value_or(0);
  v.extra_json = view_of(o.extra_json);
  v.order_id = view_of(o.order_id);
  return v;
}

th_fill view_of(const Fill &f) {
  th_fill v{};
  v.struct_size = sizeof v;
  v.corr_id = view_of(f.corr_id);
  v.parent_corr_id = view_of(f.parent_corr_id);
  v.fill_id = view_of(f.fill_id);
  v.order_id = view_of(f.order_id);
  v.agent_id = view_of(f.agent_id);
  v.instrument = view_of(f.instrument);
  v.side = f.side;
  v.fill_status = f.fill_status;
  v.quantity_filled = f.quantity_filled;
  v.quantity_requested = f.quantity_requested.value_or(0);
  v.avg_fill_price = f.avg_fill_price;
  v.fill_timestamp_ns = f.fill_timestamp_ns;
  v.rejection_reason = view_of(f.rejection_reason);
  v.execution_venue = view_of(f.execution_venue);
  v.commission = f.fees.commission;
  v.exchange_fee = f.fees.exchange_fee;
  v.regulatory_fee = f.fees.regulatory_fee;
  v.slippage_bps = f.slippage_bps.value_or(0);
  v.extra_json = view_of(f.extra_json);
  return v;
}

th_reconcile view_of(const Reconcile &r) {
  th_reconcile v{};
  v.struct_size = sizeof v;
  v.corr_id = view_of(r.corr_id);
  v.parent_corr_id = view_of(r.parent_corr_id);
  v.reconcile_id = view_of(r.reconcile_id);
  v.agent_id = view_of(r.agent_id);
  v.account_id = view_of(r.account_id);
  v.instrument = view_of(r.instrument);
  v.position_delta = r.position_delta;
  v.new_position = r.new_position;
  v.avg_entry_price = r.avg_entry_price;
  v.realized_pnl = r.realized_pnl;
  v.unrealized_pnl = r.unrealized_pnl;
  v.reconcile_timestamp_ns = r.reconcile_timestamp_ns;
  v.extra_json = view_of(r.extra_json);
  return v;
}

th_audit_event view_of(const AuditRecord &a) {
  th_audit_event v{};
  v.struct_size = sizeof v;
  v.event_id = view_of(a.event_id);
  v.correlation_id = view_of(a.correlation_id);
  v.event_type = view_of(a.event_type);
  v.timestamp_ns = a.timestamp_ns;
  v.service = view_of(a.service);
  v.data_json = view_of(a.data_json);
  return v;
}

// The assign_from() functions read a field only when the writer's struct_size reaches it; a
// field it does not reach takes the host struct's default.

void assign_from(Signal &out, const th_signal &in) {
  using T = th_signal;
  const uint32_t flags = REACHES(in, T, flags) ? in.flags : 0u;
  REACHES(in, T, corr_id) ? assign(out.corr_id, in.corr_id) : out.corr_id.clear();
  REACHES(in, T, parent_corr_id) ? assign(out.parent_corr_id, in.parent_corr_id) : out.parent_corr_id.clear();
  REACHES(in, T, instrument) ? assign(out.instrument, in.instrument) : out.instrument.clear();
  out.action = REACHES(in, T, action) ? in.action : 0;
  out.strength = REACHES(in, T, strength) ? in.strength : 0;
  out.price = optional_if(REACHES(in, T, price) && (flags & TH_SIGNAL_HAS_PRICE), in.price);
  out.timestamp_ns = REACHES(in, T, timestamp_ns) ? in.timestamp_ns : 0;
  REACHES(in, T, source) ? assign(out.source, in.source) : out.source.clear();
  REACHES(in, T, extra_json) ? assign(out.extra_json, in.extra_json) : out.extra_json.clear();
}

void assign_from(OrderIntent &out, const th_order_intent &in) {
  using T = th_order_intent;
  const uint32_t flags = REACHES(in, T, flags) ? in.flags : 0u;
  REACHES(in, T, corr_id) ? assign(out.corr_id, in.corr_id) : out.corr_id.clear();
  REACHES(in, T, parent_corr_id) ? assign(out.parent_corr_id, in.parent_corr_id) : out.parent_corr_id.clear();
  REACHES(in, T, agent_id) ? assign(out.agent_id, in.agent_id) : out.agent_id.clear();
  REACHES(in, T, instrument) ? assign(out.instrument, in.instrument) : out.instrument.clear();
  out.side = REACHES(in, T, side) ? in.side : 0;
  out.order_type = REACHES(in, T, order_type) ? in.order_type : 0;
  out.time_in_force = REACHES(in, T, time_in_force) ? in.time_in_force : 0;
  out.quantity = REACHES(in, T, quantity) ? in.quantity : 0;
  out.price_limit =
      optional_if(REACHES(in, T, price_limit) && (flags & TH_INTENT_HAS_PRICE_LIMIT), in.price_limit);
  out.stop_price =
      optional_if(REACHES(in, T, stop_price) && (flags & TH_INTENT_HAS_STOP_PRICE), in.stop_price);
  out.timestamp_ns = REACHES(in, T, timestamp_ns) ? in.timestamp_ns : 0;
  REACHES(in, T, strategy) ? assign(out.strategy, in.strategy) : out.strategy.clear();
  RiskParams &r = out.risk_params;
  r.max_position =
      optional_if(REACHES(in, T, max_position) && (flags & TH_INTENT_HAS_MAX_POSITION), in.max_position);
  r.stop_loss = optional_if(REACHES(in, T, stop_loss) && (flags & TH_INTENT_HAS_STOP_LOSS), in.stop_loss);
  r.take_profit =
      optional_if(REACHES(in, T, take_profit) && (flags & TH_INTENT_HAS_TAKE_PROFIT), in.take_profit);
  r.max_slippage_bps = optional_if(REACHES(in, T, max_slippage_bps) && (flags & TH_INTENT_HAS_MAX_SLIPPAGE),
                                   in.max_slippage_bps);
  REACHES(in, T, extra_json) ? assign(out.extra_json, in.extra_json) : out.extra_json.clear();
  REACHES(in, T, order_id) ? assign(out.order_id, in.order_id) : out.order_id.clear(); // ABI 1.1
}

void assign_from(Fill &out, const th_fill &in) {
  using T = th_fill;
  REACHES(in, T, corr_id) ? assign(out.corr_id, in.corr_id) : out.corr_id.clear();
  REACHES(in, T, parent_corr_id) ? assign(out.parent_corr_id, in.parent_corr_id) : out.parent_corr_id.clear();
  REACHES(in, T, fill_id) ? assign(out.fill_id, in.fill_id) : out.fill_id.clear();
  REACHES(in, T, order_id) ? assign(out.order_id, in.order_id) : out.order_id.clear();
  REACHES(in, T, agent_id) ? assign(out.agent_id, in.agent_id) : out.agent_id.clear();
  REACHES(in, T, instrument) ? assign(out.instrument, in.instrument) : out.instrument.clear();
  out.side = REACHES(in, T, side) ? in.side : 0;
  out.fill_status = REACHES(in, T, fill_status) ? in.fill_status : 0;
  out.quantity_filled = REACHES(in, T, quantity_filled) ? in.quantity_filled : 0;
  // 0 is not a valid requested quantity (>= 0.001), so it means "not reported".
  out.quantity_requested =
      optional_if(REACHES(in, T, quantity_requested) && in.quantity_requested != 0, in.quantity_requested);
  out.avg_fill_price = REACHES(in, T, avg_fill_price) ? in.avg_fill_price : 0;
  out.fill_timestamp_ns = REACHES(in, T, fill_timestamp_ns) ? in.fill_timestamp_ns : 0;
  REACHES(in, T, rejection_reason) ? assign(out.rejection_reason, in.rejection_reason)
                                   : out.rejection_reason.clear();
  REACHES(in, T, execution_venue) ? assign(out.execution_venue, in.execution_venue)
                                  : out.execution_venue.clear();
  out.fees.commission = REACHES(in, T, commission) ? in.commission : 0;
  out.fees.exchange_fee = REACHES(in, T, exchange_fee) ? in.exchange_fee : 0;
  out.fees.regulatory_fee = REACHES(in, T, regulatory_fee) ? in.regulatory_fee : 0;
  out.slippage_bps = optional_if(REACHES(in, T, slippage_bps), in.slippage_bps);
  REACHES(in, T, extra_json) ? assign(out.extra_json, in.extra_json) : out.extra_json.clear();
}

void assign_from(Reconcile &out, const th_reconcile &in) {
  using T = th_reconcile;
  REACHES(in, T, corr_id) ? assign(out.corr_id, in.corr_id) : out.corr_id.clear();
  REACHES(in, T, parent_corr_id) ? assign(out.parent_corr_id, in.parent_corr_id) : out.parent_corr_id.clear();
  REACHES(in, T, reconcile_id) ? assign(out.reconcile_id, in.reconcile_id) : out.reconcile_id.clear();
  REACHES(in, T, agent_id) ? assign(out.agent_id, in.agent_id) : out.agent_id.clear();
  REACHES(in, T, account_id) ? assign(out.account_id, in.account_id) : out.account_id.clear();
  REACHES(in, T, instrument) ? assign(out.instrument, in.instrument) : out.instrument.clear();
  out.position_delta = REACHES(in, T, position_delta) ? in.position_delta : 0;
  out.new_position = REACHES(in, T, new_position) ? in.new_position : 0;
  out.avg_entry_price = REACHES(in, T, avg_entry_price) ? in.avg_entry_price : 0;
  out.realized_pnl = REACHES(in, T, realized_pnl) ? in.realized_pnl : 0;
  out.unrealized_pnl = REACHES(in, T, unrealized_pnl) ? in.unrealized_pnl : 0;
  out.reconcile_timestamp_ns = REACHES(in, T, reconcile_timestamp_ns) ? in.reconcile_timestamp_ns : 0;
  REACHES(in, T, extra_json) ? assign(out.extra_json, in.extra_json) : out.extra_json.clear();
}

#undef REACHES

} // namespace th
