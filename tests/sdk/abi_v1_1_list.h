/* What ABI 1.1 added to <tradehost/plugin.h>, as a list like abi_v1_0_list.h. Once released,
 * never edited: later minors get their own list. Each row's offset is pinned in
 * abi_layout_test.cpp (LP64), so an addition can neither move nor be inserted before it. */
#ifndef ABI_V1_1_LIST_H
#define ABI_V1_1_LIST_H

/* clang-format off */
#define ABI_V1_1_FIELDS(F) \
  F(th_audit_event, sequence) \
  F(th_order_intent, order_id) \
  F(th_host_api, report_sink_state) \
  F(th_host_api, durable_up_to) \
  F(th_host_api, trading_state) \
  F(th_plugin_descriptor, cancel_all)

#define ABI_V1_1_CONSTANTS(C) \
  C(TH_SINK_WRITABLE) \
  C(TH_SINK_UNAVAILABLE) \
  C(TH_PLUGIN_FLAG_REPORTS_DURABLE) \
  C(TH_TRADING_ACTIVE) \
  C(TH_TRADING_REDUCING) \
  C(TH_TRADING_HALTED)
/* clang-format on */

#endif /* ABI_V1_1_LIST_H */
