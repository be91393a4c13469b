/* The plugin ABI v1.0 as a list: every struct, every field of each struct, every numeric
 * constant. Generated once from tests/abi-v1.0/tradehost/plugin.h (the frozen header) and, like
 * it, never edited: later minors append fields and constants, they never change these.
 * layout_table.inc turns the list into a table for whichever plugin.h is on the include path. */
#ifndef ABI_V1_0_LIST_H
#define ABI_V1_0_LIST_H

/* One entry per line, as generated. */
/* clang-format off */
#define ABI_V1_0_STRUCTS(S) \
  S(th_str) \
  S(th_signal) \
  S(th_order_intent) \
  S(th_fill) \
  S(th_reconcile) \
  S(th_audit_event) \
  S(th_position) \
  S(th_label) \
  S(th_host_api) \
  S(th_plugin_descriptor)

#define ABI_V1_0_FIELDS(F) \
  F(th_str, ptr) \
  F(th_str, len) \
  F(th_signal, struct_size) \
  F(th_signal, flags) \
  F(th_signal, corr_id) \
  F(th_signal, parent_corr_id) \
  F(th_signal, instrument) \
  F(th_signal, action) \
  F(th_signal, reserved0) \
  F(th_signal, strength) \
  F(th_signal, price) \
  F(th_signal, timestamp_ns) \
  F(th_signal, source) \
  F(th_signal, extra_json) \
  F(th_order_intent, struct_size) \
  F(th_order_intent, flags) \
  F(th_order_intent, corr_id) \
  F(th_order_intent, parent_corr_id) \
  F(th_order_intent, agent_id) \
  F(th_order_intent, instrument) \
  F(th_order_intent, side) \
  F(th_order_intent, order_type) \
  F(th_order_intent, time_in_force) \
  F(th_order_intent, reserved0) \
  F(th_order_intent, quantity) \
  F(th_order_intent, price_limit) \
  F(th_order_intent, stop_price) \
  F(th_order_intent, timestamp_ns) \
  F(th_order_intent, strategy) \
  F(th_order_intent, max_position) \
  F(th_order_intent, stop_loss) \
  F(th_order_intent, take_profit) \
  F(th_order_intent, max_slippage_bps) \
  F(th_order_intent, extra_json) \
  F(th_fill, struct_size) \
  F(th_fill, flags) \
  F(th_fill, corr_id) \
  F(th_fill, parent_corr_id) \
  F(th_fill, fill_id) \
  F(th_fill, order_id) \
  F(th_fill, agent_id) \
  F(th_fill, instrument) \
  F(th_fill, side) \
  F(th_fill, fill_status) \
  F(th_fill, quantity_filled) \
  F(th_fill, quantity_requested) \
  F(th_fill, avg_fill_price) \
  F(th_fill, fill_timestamp_ns) \
  F(th_fill, rejection_reason) \
  F(th_fill, execution_venue) \
  F(th_fill, commission) \
  F(th_fill, exchange_fee) \
  F(th_fill, regulatory_fee) \
  F(th_fill, slippage_bps) \
  F(th_fill, extra_json) \
  F(th_reconcile, struct_size) \
  F(th_reconcile, flags) \
  F(th_reconcile, corr_id) \
  F(th_reconcile, parent_corr_id) \
  F(th_reconcile, reconcile_id) \
  F(th_reconcile, agent_id) \
  F(th_reconcile, account_id) \
  F(th_reconcile, instrument) \
  F(th_reconcile, position_delta) \
  F(th_reconcile, new_position) \
  F(th_reconcile, avg_entry_price) \
  F(th_reconcile, realized_pnl) \
  F(th_reconcile, unrealized_pnl) \
  F(th_reconcile, reconcile_timestamp_ns) \
  F(th_reconcile, extra_json) \
  F(th_audit_event, struct_size) \
  F(th_audit_event, flags) \
  F(th_audit_event, event_id) \
  F(th_audit_event, correlation_id) \
  F(th_audit_event, event_type) \
  F(th_audit_event, timestamp_ns) \
  F(th_audit_event, service) \
  F(th_audit_event, data_json) \
  F(th_position, struct_size) \
  F(th_position, flags) \
  F(th_position, quantity) \
  F(th_position, avg_entry_price) \
  F(th_position, realized_pnl) \
  F(th_position, unrealized_pnl) \
  F(th_position, last_price) \
  F(th_position, realized_pnl_today) \
  F(th_label, name) \
  F(th_label, value) \
  F(th_host_api, struct_size) \
  F(th_host_api, abi_major) \
  F(th_host_api, abi_minor) \
  F(th_host_api, log) \
  F(th_host_api, now_ns) \
  F(th_host_api, emit_order_intent) \
  F(th_host_api, emit_fill) \
  F(th_host_api, emit_reconcile) \
  F(th_host_api, get_position) \
  F(th_host_api, metric) \
  F(th_host_api, reject_order) \
  F(th_host_api, emit_audit) \
  F(th_plugin_descriptor, struct_size) \
  F(th_plugin_descriptor, abi_major) \
  F(th_plugin_descriptor, abi_minor) \
  F(th_plugin_descriptor, kind) \
  F(th_plugin_descriptor, flags) \
  F(th_plugin_descriptor, name) \
  F(th_plugin_descriptor, version) \
  F(th_plugin_descriptor, description) \
  F(th_plugin_descriptor, params_schema) \
  F(th_plugin_descriptor, create) \
  F(th_plugin_descriptor, destroy) \
  F(th_plugin_descriptor, last_error) \
  F(th_plugin_descriptor, start) \
  F(th_plugin_descriptor, stop) \
  F(th_plugin_descriptor, on_signal) \
  F(th_plugin_descriptor, check_order) \
  F(th_plugin_descriptor, on_order_intent) \
  F(th_plugin_descriptor, on_fill) \
  F(th_plugin_descriptor, on_audit_event)

#define ABI_V1_0_CONSTANTS(C) \
  C(TH_ABI_VERSION_MAJOR) \
  C(TH_ABI_VERSION_MINOR) \
  C(TH_OK) \
  C(TH_ERROR) \
  C(TH_INVALID_ARGUMENT) \
  C(TH_UNSUPPORTED) \
  C(TH_REJECTED) \
  C(TH_UNAVAILABLE) \
  C(TH_KIND_STRATEGY) \
  C(TH_KIND_RISK) \
  C(TH_KIND_EXECUTOR) \
  C(TH_KIND_AUDIT_SINK) \
  C(TH_SIGNAL_BUY) \
  C(TH_SIGNAL_SELL) \
  C(TH_SIGNAL_HOLD) \
  C(TH_SIGNAL_CLOSE) \
  C(TH_SIDE_BUY) \
  C(TH_SIDE_SELL) \
  C(TH_ORDER_MARKET) \
  C(TH_ORDER_LIMIT) \
  C(TH_ORDER_STOP) \
  C(TH_ORDER_STOP_LIMIT) \
  C(TH_TIF_DAY) \
  C(TH_TIF_IOC) \
  C(TH_TIF_FOK) \
  C(TH_TIF_GTC) \
  C(TH_TIF_GTD) \
  C(TH_FILL_COMPLETE) \
  C(TH_FILL_PARTIAL) \
  C(TH_FILL_REJECTED) \
  C(TH_FILL_CANCELLED) \
  C(TH_LOG_DEBUG) \
  C(TH_LOG_INFO) \
  C(TH_LOG_WARN) \
  C(TH_LOG_ERROR) \
  C(TH_METRIC_COUNTER) \
  C(TH_METRIC_GAUGE) \
  C(TH_METRIC_HISTOGRAM) \
  C(TH_SIGNAL_HAS_PRICE) \
  C(TH_INTENT_HAS_PRICE_LIMIT) \
  C(TH_INTENT_HAS_STOP_PRICE) \
  C(TH_INTENT_HAS_MAX_POSITION) \
  C(TH_INTENT_HAS_STOP_LOSS) \
  C(TH_INTENT_HAS_TAKE_PROFIT) \
  C(TH_INTENT_HAS_MAX_SLIPPAGE) \
  C(TH_PLUGIN_FLAG_THREAD_SAFE)

/* clang-format on */

#endif /* ABI_V1_0_LIST_H */
