#include "portfolio/portfolio.hpp"

#include "observability/log.hpp"
#include "portfolio/portfolio_store.hpp"

#include <cmath>

namespace th {
namespace {

constexpr int64_t ns_per_day = 86'400'000'000'000;

int64_t utc_day(int64_t ns) {
  return ns >= 0 ? ns / ns_per_day : -((-ns + ns_per_day - 1) / ns_per_day);
}

// Positions closer to zero than this are flat (floating-point residue of equal buys and sells).
constexpr double flat_epsilon = 1e-9;

double unrealized(double last_price, double avg_entry_price, double quantity) {
  return quantity == 0 ? 0 : (last_price - avg_entry_price) * quantity;
}

} // namespace

double Portfolio::last_price_of(std::string_view instrument, const Book &book) const {
  auto it = last_price_.find(instrument);
  return it != last_price_.end() ? it->second : book.last_fill_price;
}

Portfolio::Portfolio() = default;
Portfolio::~Portfolio() = default;

namespace {
bool has_quantity(const Fill &fill) {
  return fill.quantity_filled > 0 &&
         (fill.fill_status == TH_FILL_COMPLETE || fill.fill_status == TH_FILL_PARTIAL) &&
         (fill.side == TH_SIDE_BUY || fill.side == TH_SIDE_SELL);
}
} // namespace

std::optional<Reconcile> Portfolio::apply(const Fill &fill) {
  Outcome o = record(fill);
  if (o.kind != Outcome::applied)
    return std::nullopt;
  return std::move(o.reconcile);
}

Portfolio::Outcome Portfolio::record(const Fill &fill) {
  Outcome out;
  if (!has_quantity(fill))
    return out;
  std::lock_guard lock(mutex_);
  if (auto seen = applied_.find(fill.fill_id); seen != applied_.end()) {
    ++duplicates_;
    out.kind = Outcome::duplicate;
    Reconcile stored;
    if (store_ && seen->second >= 0 && store_->read_reconcile(static_cast<uint64_t>(seen->second), stored))
      out.reconcile = std::move(stored);
    return out;
  }
  auto key = std::make_pair(fill.agent_id, fill.instrument);
  auto it = books_.find(key);
  Book next = it != books_.end() ? it->second : Book{};
  Reconcile r = apply_to(next, fill);
  int64_t offset = -1;
  if (store_) {
    // Recorded before it is applied. A fill that cannot be recorded is still applied (it
    // happened at the venue; forgetting it would understate the position risk checks read),
    // and the failure is logged: a restart would not find it.
    std::string error;
    offset = store_->append(fill, r, error);
    if (!error.empty())
      log::error("portfolio_record_failed",
                 {{"file", store_->path()}, {"fill_id", fill.fill_id}, {"reason", error}}, fill.corr_id);
  }
  books_[std::move(key)] = next;
  applied_.emplace(fill.fill_id, offset);
  out.kind = Outcome::applied;
  out.reconcile = std::move(r);
  return out;
}

Reconcile Portfolio::apply_to(Book &b, const Fill &fill) const {
  const double price = fill.avg_fill_price;
  const double delta = fill.side == TH_SIDE_BUY ? fill.quantity_filled : -fill.quantity_filled;
  const int64_t day = utc_day(fill.fill_timestamp_ns);
  if (day != b.today_day) {
    b.realized_today = 0;
    b.today_day = day;
  }

  double realized = 0;
  const double before = b.quantity;
  if (before == 0 || (before > 0) == (delta > 0)) {
    // Opening or adding: the average entry price is the quantity-weighted mean.
    const double size = std::abs(before) + std::abs(delta);
    b.avg_entry_price = (std::abs(before) * b.avg_entry_price + std::abs(delta) * price) / size;
    b.quantity = before + delta;
  } else {
    // Reducing: the closed part realises (exit - entry) per unit, sign-aware.
    const double closed = std::min(std::abs(before), std::abs(delta));
    realized = (price - b.avg_entry_price) * closed * (before > 0 ? 1 : -1);
    const double after = before + delta;
    if (std::abs(after) < flat_epsilon) {
      b.quantity = 0;
      b.avg_entry_price = 0;
    } else if ((after > 0) == (before > 0)) {
      b.quantity = after; // same direction: the average entry price stays
    } else {
      b.quantity = after; // crossed through zero: the rest opens at the fill price
      b.avg_entry_price = price;
    }
  }
  realized -= fill.fees.commission + fill.fees.exchange_fee + fill.fees.regulatory_fee;
  b.realized_pnl += realized;
  b.realized_today += realized;
  b.last_fill_price = price;

  Reconcile r;
  r.corr_id = fill.corr_id;
  r.parent_corr_id = fill.parent_corr_id;
  r.reconcile_id = "rec-" + fill.fill_id;
  r.agent_id = fill.agent_id;
  r.instrument = fill.instrument;
  r.position_delta = delta;
  r.new_position = b.quantity;
  r.avg_entry_price = b.avg_entry_price;
  r.realized_pnl = b.realized_pnl;
  r.unrealized_pnl = unrealized(last_price_of(fill.instrument, b), b.avg_entry_price, b.quantity);
  r.reconcile_timestamp_ns = fill.fill_timestamp_ns;
  return r;
}

std::pair<uint64_t, uint64_t> Portfolio::open_record(const std::string &path, bool fsync) {
  std::lock_guard lock(mutex_);
  PortfolioStore::Loaded loaded;
  auto store = PortfolioStore::open(
      path, fsync,
      [this](const Fill &fill, const Reconcile &, uint64_t offset) {
        if (!has_quantity(fill) || applied_.count(fill.fill_id))
          return;
        Book &b = books_[{fill.agent_id, fill.instrument}];
        apply_to(b, fill);
        applied_.emplace(fill.fill_id, static_cast<int64_t>(offset));
      },
      loaded);
  store_ = std::move(store);
  return {loaded.fills, loaded.torn_bytes};
}

std::string Portfolio::record_path() const {
  std::lock_guard lock(mutex_);
  return store_ ? store_->path() : std::string();
}

uint64_t Portfolio::fills_applied() const {
  std::lock_guard lock(mutex_);
  return applied_.size();
}

uint64_t Portfolio::duplicates() const {
  std::lock_guard lock(mutex_);
  return duplicates_;
}

void Portfolio::mark(std::string_view instrument, double price) {
  std::lock_guard lock(mutex_);
  auto it = last_price_.find(instrument);
  if (it == last_price_.end())
    last_price_.emplace(std::string(instrument), price);
  else
    it->second = price;
}

th_position Portfolio::position_locked(std::string_view agent_id, std::string_view instrument,
                                       std::optional<int64_t> now_day) const {
  th_position out{};
  out.struct_size = sizeof out;
  double net_cost = 0; // sum of quantity * avg_entry_price over the books summed
  for (const auto &[key, b] : books_) {
    if (!agent_id.empty() && key.first != agent_id)
      continue;
    if (!instrument.empty() && key.second != instrument)
      continue;
    const double last = last_price_of(key.second, b);
    out.quantity += b.quantity;
    net_cost += b.quantity * b.avg_entry_price;
    out.realized_pnl += b.realized_pnl;
    out.unrealized_pnl += unrealized(last, b.avg_entry_price, b.quantity);
    out.realized_pnl_today += now_day && *now_day != b.today_day ? 0 : b.realized_today;
  }
  if (instrument.empty()) {
    // A sum over instruments has no meaningful quantity or price.
    out.quantity = 0;
    return out;
  }
  if (std::abs(out.quantity) < flat_epsilon)
    out.quantity = 0;
  // Over several agents: net cost / net quantity, so (last - avg) * quantity equals the summed
  // unrealized PnL. For one agent this is the book's own average entry price.
  out.avg_entry_price = out.quantity != 0 ? net_cost / out.quantity : 0;
  auto it = last_price_.find(instrument);
  if (it != last_price_.end()) {
    out.last_price = it->second;
  } else if (!agent_id.empty()) {
    auto book = books_.find(std::make_pair(std::string(agent_id), std::string(instrument)));
    if (book != books_.end())
      out.last_price = book->second.last_fill_price;
  }
  return out;
}

th_position Portfolio::position(std::string_view agent_id, std::string_view instrument) const {
  std::lock_guard lock(mutex_);
  return position_locked(agent_id, instrument, std::nullopt);
}

th_position Portfolio::position(std::string_view agent_id, std::string_view instrument,
                                int64_t now_ns) const {
  std::lock_guard lock(mutex_);
  return position_locked(agent_id, instrument, utc_day(now_ns));
}

nlohmann::json Portfolio::snapshot() const {
  std::lock_guard lock(mutex_);
  nlohmann::json positions = nlohmann::json::array();
  for (const auto &[key, b] : books_) {
    positions.push_back(
        {{"agent_id", key.first},
         {"instrument", key.second},
         {"quantity", b.quantity},
         {"avg_entry_price", b.avg_entry_price},
         {"realized_pnl", b.realized_pnl},
         {"unrealized_pnl", unrealized(last_price_of(key.second, b), b.avg_entry_price, b.quantity)},
         {"last_price", last_price_of(key.second, b)},
         {"realized_pnl_today", b.realized_today}});
  }
  return {{"positions", positions}};
}

} // namespace th
