// One of each contract payload, most optional members set, for the codec and writer tests.
#pragma once

#include "events/events.hpp"

namespace th::testing {

// 2025-01-15T10:30:01.250Z
constexpr TimeNs sample_ns = 1736937001250000000;

inline Signal sample_signal() {
  Signal s;
  s.corr_id = "tradingview_0123abcd";
  s.instrument = "BTC/USDT";
  s.action = TH_SIGNAL_BUY;
  s.strength = 0.75;
  s.price = 42000.5;
  s.timestamp_ns = sample_ns;
  s.source = "tradingview";
  return s;
}

inline OrderIntent sample_intent() {
  OrderIntent o;
  o.corr_id = "tradingview_0123abcd";
  o.parent_corr_id = "parent_0000aaaa";
  o.agent_id = "momentum-1";
  o.order_id = "tradingview_0123abcd.momentum-1.1";
  o.instrument = "BTC/USDT";
  o.side = TH_SIDE_SELL;
  o.order_type = TH_ORDER_STOP_LIMIT;
  o.time_in_force = TH_TIF_IOC;
  o.quantity = 0.5;
  o.price_limit = 41000;
  o.stop_price = 41500;
  o.timestamp_ns = sample_ns;
  o.strategy = "momentum";
  o.risk_params.max_position = 2;
  o.risk_params.stop_loss = 0.02;
  o.risk_params.take_profit = 0.05;
  o.risk_params.max_slippage_bps = 10;
  return o;
}

inline Fill sample_fill() {
  Fill f;
  f.corr_id = "tradingview_0123abcd";
  f.fill_id = "fill-1";
  f.order_id = "order-1";
  f.agent_id = "momentum-1";
  f.instrument = "ETH/USDT";
  f.side = TH_SIDE_BUY;
  f.fill_status = TH_FILL_PARTIAL;
  f.quantity_filled = 0.25;
  f.quantity_requested = 0.5;
  f.avg_fill_price = 2500.25;
  f.fill_timestamp_ns = sample_ns;
  f.execution_venue = "simulator";
  f.fees = {1.5, 0.25, 0.125};
  f.slippage_bps = 3.5;
  return f;
}

inline Reconcile sample_reconcile() {
  Reconcile r;
  r.corr_id = "tradingview_0123abcd";
  r.reconcile_id = "rec-1";
  r.agent_id = "momentum-1";
  r.account_id = "acct-7";
  r.instrument = "ETH/USDT";
  r.position_delta = -0.25;
  r.new_position = 1.75;
  r.avg_entry_price = 2400;
  r.realized_pnl = 25;
  r.unrealized_pnl = -3.5;
  r.reconcile_timestamp_ns = sample_ns;
  return r;
}

inline AuditRecord sample_audit() {
  AuditRecord a;
  a.event_id = "evt-1";
  a.correlation_id = "tradingview_0123abcd";
  a.event_type = "fill_received";
  a.timestamp_ns = sample_ns;
  a.service = "exec";
  a.data_json = R"({"fill_id":"fill-1","qty":1})";
  return a;
}

} // namespace th::testing
