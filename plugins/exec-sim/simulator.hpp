// The execution simulator: turns approved order intents into fills against the last signal
// price of each instrument. The rules are specified in README.md; comments here say why.
#pragma once

#include "params.hpp"
#include "random_source.hpp"

#include <tradehost/plugin.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace exec_sim {

// An order as the simulator keeps it: the intent's fields plus its execution state.
struct Order {
  uint64_t seq = 0; // acceptance order within the instance
  std::string corr_id, parent_corr_id, agent_id;
  std::string order_id; // the host's (ABI 1.1), else "<corr_id>.<agent_id>"
  int32_t side = 0, type = 0, tif = 0;
  double quantity = 0, remaining = 0;
  bool has_limit = false;
  double price_limit = 0, stop_price = 0;
  bool triggered = false; // stop / stop_limit: the stop price has been crossed
  int64_t day = 0;        // UTC day (of the host clock) it was accepted; DAY orders expire after it
  double stop_loss = 0, take_profit = 0; // > 0 when the intent asks for protective orders
  bool has_max_slippage = false;
  double max_slippage_bps = 0;
  uint32_t fills_emitted = 0;
};

// The protective stop and target of one entry order (one-cancels-other), for the quantity that
// entry opened and no later opposite execution has reduced.
struct Protection {
  uint64_t entry_seq = 0;
  std::string entry_corr_id, entry_order_id, agent_id;
  int32_t entry_side = 0;
  double quantity = 0;                           // still protected
  double entry_quantity = 0, entry_notional = 0; // opened so far, for the average entry price
  double stop_loss = 0, take_profit = 0;
  double stop_level = 0, target_level = 0;
  bool has_max_slippage = false;
  double max_slippage_bps = 0;
  bool entry_working = true; // the entry still rests, so it may open more
  uint32_t closes_emitted = 0;
};

struct InstrumentBook {
  bool has_price = false; // a signal price has been seen
  double last_price = 0;
  std::vector<Order> resting;          // acceptance order
  std::vector<Protection> protections; // creation order
};

class Simulator : public tradehost::PluginBase {
public:
  Simulator(const th_host_api *api, th_host *host, std::string_view params_json);

  void on_signal(const th_signal &signal);
  void on_order_intent(const th_order_intent &intent);
  // The simulator keeps no orders across a restart: at stop every working order (resting GTC
  // and DAY orders, protective stops and targets) is cancelled, each with an `order_cancelled`
  // audit event (EXEC-105). README.md, "Shutdown".
  void stop();
  // ABI 1.1 cancel_all (the host's trading state became halted): the same cancels, each also
  // with its `cancelled` fill (EXEC-106).
  void cancel_all();

private:
  // How one execution attempt ended.
  enum class Outcome { not_executable, partial, complete };

  InstrumentBook &book(std::string_view instrument);
  void expire_day_orders(int64_t now_ns);
  // Returns empty when valid, else "EXEC-00N: ...".
  std::string validate(const th_order_intent &intent, const InstrumentBook *book) const;
  void count_unknown_fields(const th_order_intent &intent);

  Outcome try_execute(std::string_view instrument, InstrumentBook &book, Order &order, double price,
                      bool price_observed, int64_t base_ns);
  void after_execution(InstrumentBook &book, const Order &order, double quantity, double price);
  void order_finished(InstrumentBook &book, const Order &order);
  void check_protections(std::string_view instrument, InstrumentBook &book, double price, int64_t base_ns);

  int64_t draw_latency_ns();
  double draw_slippage_bps(bool has_cap, double cap_bps);

  // Emits one fill of the order `order_id`; its fill_id is "sim-<order_id>-<n>" (n = fill_number).
  void emit_fill(std::string_view order_id, std::string_view order_corr_id, std::string_view parent_corr_id,
                 std::string_view agent_id, std::string_view instrument, int32_t side, int32_t status,
                 double quantity_filled, double quantity_requested, double price, int64_t timestamp_ns,
                 std::string_view reason, double slippage_bps, uint32_t fill_number);
  void cancel(std::string_view instrument, Order &order, int64_t timestamp_ns, std::string_view reason);
  // Cancels every working order and protection, recording each with an `order_cancelled` audit
  // event; with `cancel_fills`, resting orders also get their `cancelled` fill.
  void cancel_working(std::string_view code, std::string_view reason, bool cancel_fills);

  Params params_;
  RandomSource random_;
  std::map<std::string, InstrumentBook, std::less<>> books_;
  std::string cached_instrument_; // books_ nodes are stable: cache the last lookup
  InstrumentBook *cached_book_ = nullptr;
  uint64_t next_seq_ = 1;
  int64_t last_fill_ns_ = 0; // timestamp of the last execution (an IOC remainder's cancel reuses it)
  int64_t current_day_ = INT64_MIN;
  Order scratch_; // the incoming order, reused to avoid allocations
  std::string order_id_, fill_id_, closing_corr_id_, closing_order_id_, reason_; // reused buffers
  std::set<std::string, std::less<>> logged_unknown_fields_;
};

} // namespace exec_sim
