// Positions and PnL per (agent, instrument), fed by fills. Average-cost accounting: adding to a
// position moves the average entry price; reducing realises (exit - avg) * qty (sign-aware);
// crossing through zero realises the closed part and opens the rest at the fill price.
// Fees are subtracted from realized PnL. Thread-safe.
//
// Idempotent on fill_id: a fill whose id was applied before (redelivered by the bus, republished
// after a failover or a crash recovery) changes nothing. With a record (open_record()), every
// applied fill is appended to a file before it changes the books, and the books and the fill
// ids are rebuilt from that file at start (portfolio_store.hpp).
#pragma once

#include "events/events.hpp"

#include <tradehost/plugin.h>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace th {

class PortfolioStore;

class Portfolio {
public:
  Portfolio();
  ~Portfolio();

  // What record() did with a fill.
  struct Outcome {
    enum Kind {
      applied,   // the books changed; `reconcile` is the result
      duplicate, // its fill_id was applied before: nothing changed; `reconcile` is the one stored
                 // then when the portfolio has a record (publish it again: same id), else empty
      ignored,   // no quantity (rejected, cancelled) or no side
    } kind = ignored;
    std::optional<Reconcile> reconcile;
  };
  // Applies a fill with quantity_filled > 0 (complete or partial) once per fill_id.
  Outcome record(const Fill &fill);
  // record(), returning the reconcile (reconcile_id derived from fill_id) only when applied.
  std::optional<Reconcile> apply(const Fill &fill);

  // Rebuilds the books from the record at `path` and appends every fill applied from now on to
  // it (before applying it). Throws std::runtime_error when the file cannot be opened, locked or
  // read (portfolio_store.hpp). Call before the first fill. Returns (fills replayed, torn bytes).
  std::pair<uint64_t, uint64_t> open_record(const std::string &path, bool fsync = false);
  std::string record_path() const;
  // Fills applied (since start, replayed ones included) and duplicates refused.
  uint64_t fills_applied() const;
  uint64_t duplicates() const;

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
  // fill_id -> offset of its line in the record (-1 without a record).
  std::unordered_map<std::string, int64_t> applied_;
  std::unique_ptr<PortfolioStore> store_;
  uint64_t duplicates_ = 0;

  // The reconcile of `fill` applied to `b` (which it updates). Caller holds mutex_.
  Reconcile apply_to(Book &b, const Fill &fill) const;

  double last_price_of(std::string_view instrument, const Book &book) const; // caller holds mutex_
  th_position position_locked(std::string_view agent_id, std::string_view instrument,
                              std::optional<int64_t> now_day) const;
};

} // namespace th
