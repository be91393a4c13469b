// Positions and PnL per (agent, instrument), fed by fills. Average-cost accounting: adding to a
// position moves the average entry price; reducing realises (exit - avg) * qty (sign-aware);
// crossing through zero realises the closed part and opens the rest at the fill price.
// Fees are subtracted from realized PnL. Thread-safe.
#pragma once

#include "events/events.hpp"

#include <tradehost/plugin.h>

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace th {

class Portfolio {
public:
  // Applies a fill with quantity_filled > 0 (complete or partial) and returns the reconcile
  // (reconcile_id derived from fill_id). Rejected/cancelled fills with no quantity: nullopt.
  std::optional<Reconcile> apply(const Fill &fill);

  // Records the last price of an instrument (for unrealized PnL).
  void mark(std::string_view instrument, double price);

  // One agent's position, or the total over all agents when agent_id is empty.
  th_position position(std::string_view agent_id, std::string_view instrument) const;
  // The same, with realized_pnl_today read as 0 for books whose last fill was on an earlier UTC
  // day than now_ns (so a daily loss limit does not see yesterday's losses).
  th_position position(std::string_view agent_id, std::string_view instrument, int64_t now_ns) const;

  // {"positions":[{"agent_id","instrument","quantity","avg_entry_price","realized_pnl",
  //   "unrealized_pnl","last_price"}...]} sorted by agent then instrument.
  nlohmann::json snapshot() const;

private:
  struct Book {
    double quantity = 0;
    double avg_entry_price = 0;
    double realized_pnl = 0;
    double realized_today = 0;
    int64_t today_day = 0;      // days since epoch of realized_today
    double last_fill_price = 0; // unrealized PnL uses it while the instrument has no mark
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Book, std::less<>> books_; // (agent, instrument)
  std::map<std::string, double, std::less<>> last_price_;

  double last_price_of(std::string_view instrument, const Book &book) const; // caller holds mutex_
  th_position position_locked(std::string_view agent_id, std::string_view instrument,
                              std::optional<int64_t> now_day) const;
};

} // namespace th
