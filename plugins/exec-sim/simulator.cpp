#include "simulator.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace exec_sim {
namespace {

using tradehost::str;
using tradehost::view;

constexpr int64_t ns_per_day = 86'400'000'000'000;
constexpr double min_quantity = 0.001;
constexpr std::string_view venue = "simulator";

int64_t utc_day(int64_t ns) {
  return ns >= 0 ? ns / ns_per_day : -((-ns + ns_per_day - 1) / ns_per_day);
}

// Quantities are kept at 9 decimals so that a remainder plus its fills add up exactly.
double round9(double q) {
  return std::round(q * 1e9) / 1e9;
}

// Shortest round-trip text of a double (locale independent, same everywhere).
std::string number(double v) {
  char buf[32];
  auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

bool valid_corr_id(std::string_view id) {
  if (id.size() < 8 || id.size() > 64)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool positive(double v) {
  return std::isfinite(v) && v > 0;
}

double adverse(double price, int32_t side, double slippage_bps) {
  return side == TH_SIDE_BUY ? price * (1 + slippage_bps / 10000) : price * (1 - slippage_bps / 10000);
}

std::string_view fill_type(int32_t status) {
  switch (status) {
  case TH_FILL_COMPLETE:
    return "complete";
  case TH_FILL_PARTIAL:
    return "partial";
  case TH_FILL_REJECTED:
    return "rejected";
  default:
    return "cancelled";
  }
}

} // namespace

Simulator::Simulator(const th_host_api *api, th_host *host, std::string_view params_json)
    : PluginBase(api, host), params_(parse_params(params_json)), random_(params_.seed) {}

InstrumentBook &Simulator::book(std::string_view instrument) {
  if (cached_book_ && cached_instrument_ == instrument)
    return *cached_book_;
  auto it = books_.find(instrument);
  if (it == books_.end())
    it = books_.emplace(std::string(instrument), InstrumentBook{}).first;
  cached_instrument_.assign(instrument);
  cached_book_ = &it->second;
  return *cached_book_;
}

int64_t Simulator::draw_latency_ns() {
  double ms = params_.max_latency_ms > params_.min_latency_ms
                  ? random_.uniform(params_.min_latency_ms, params_.max_latency_ms)
                  : params_.min_latency_ms;
  return std::llround(ms * 1e6);
}

double Simulator::draw_slippage_bps(bool has_cap, double cap_bps) {
  double range = params_.slippage_bps;
  if (has_cap && cap_bps >= 0 && cap_bps < range)
    range = cap_bps; // the intent's max_slippage_bps
  return range > 0 ? range * random_.uniform() : 0;
}

void Simulator::emit_fill(std::string_view order_id, std::string_view order_corr_id,
                          std::string_view parent_corr_id, std::string_view agent_id,
                          std::string_view instrument, int32_t side, int32_t status, double quantity_filled,
                          double quantity_requested, double price, int64_t timestamp_ns,
                          std::string_view reason, double slippage_bps, uint32_t fill_number) {
  char digits[16];
  auto end = std::to_chars(digits, digits + sizeof digits, fill_number).ptr;
  fill_id_.assign("sim-").append(order_id).append("-").append(digits, end);

  th_fill f{};
  f.struct_size = sizeof f;
  f.corr_id = str(order_corr_id);
  f.parent_corr_id = str(parent_corr_id);
  f.fill_id = str(fill_id_);
  f.order_id = str(order_id);
  f.agent_id = str(agent_id);
  f.instrument = str(instrument);
  f.side = side;
  f.fill_status = status;
  f.quantity_filled = quantity_filled;
  f.quantity_requested = quantity_requested;
  f.avg_fill_price = price;
  f.fill_timestamp_ns = timestamp_ns;
  f.rejection_reason = str(reason);
  f.execution_venue = str(venue);
  if (quantity_filled > 0) {
    double notional = quantity_filled * price;
    f.commission = params_.commission_per_share * quantity_filled;
    f.exchange_fee = notional * params_.fee_bps / 10000;
    f.regulatory_fee = notional * params_.regulatory_fee_bps / 10000;
  }
  f.slippage_bps = slippage_bps;
  if (th_status st = emit(f); st != TH_OK)
    log(TH_LOG_WARN, "exec-sim: the host refused fill " + fill_id_ + " (status " + std::to_string(st) + ")",
        order_corr_id);

  std::string_view type = fill_type(status);
  th_label labels[] = {{TH_STR("fill_type"), str(type)}, {TH_STR("instrument"), str(instrument)}};
  count("exec_sim_fills_generated_total", 1, labels, 2);
  if (quantity_filled > 0)
    observe("exec_sim_slippage_bps", slippage_bps, &labels[1], 1);
}

void Simulator::cancel(std::string_view instrument, Order &order, int64_t timestamp_ns,
                       std::string_view reason) {
  ++order.fills_emitted;
  emit_fill(order.order_id, order.corr_id, order.parent_corr_id, order.agent_id, instrument, order.side,
            TH_FILL_CANCELLED, 0, order.quantity, 0, timestamp_ns, reason, 0, order.fills_emitted);
}

void Simulator::stop() {
  cancel_working("EXEC-105",
                 "EXEC-105: cancelled at shutdown: the simulator keeps no orders across a restart", false);
}

void Simulator::cancel_all() {
  cancel_working("EXEC-106", "EXEC-106: cancelled by the host: trading halted", true);
}

void Simulator::cancel_working(std::string_view code, std::string_view reason, bool cancel_fills) {
  auto tif_name = [](int32_t tif) { return tif == TH_TIF_GTC ? "GTC" : tif == TH_TIF_DAY ? "DAY" : "other"; };
  auto type_name = [](int32_t type) {
    return type == TH_ORDER_LIMIT        ? "limit"
           : type == TH_ORDER_STOP       ? "stop"
           : type == TH_ORDER_STOP_LIMIT ? "stop_limit"
                                         : "market";
  };
  auto side_name = [](int32_t side) { return side == TH_SIDE_BUY ? "buy" : "sell"; };
  int64_t now = now_ns();
  for (auto &[instrument, b] : books_) {
    for (Order &o : b.resting) {
      if (o.remaining <= 0)
        continue;
      nlohmann::json data = {{"order_id", o.order_id},
                             {"agent_id", o.agent_id},
                             {"instrument", instrument},
                             {"kind", "order"},
                             {"side", side_name(o.side)},
                             {"order_type", type_name(o.type)},
                             {"time_in_force", tif_name(o.tif)},
                             {"quantity", o.quantity},
                             {"remaining", o.remaining},
                             {"code", code},
                             {"reason", reason},
                             {"venue", venue}};
      if (o.has_limit)
        data["price_limit"] = o.price_limit;
      if (o.type == TH_ORDER_STOP || o.type == TH_ORDER_STOP_LIMIT)
        data["stop_price"] = o.stop_price;
      if (cancel_fills)
        cancel(instrument, o, now, reason);
      audit("order_cancelled", o.corr_id, data.dump());
      o.remaining = 0;
      order_finished(b, o);
    }
    std::erase_if(b.resting, [](const Order &o) { return o.remaining <= 0; });
    for (Protection &p : b.protections) {
      if (p.quantity <= 0)
        continue;
      nlohmann::json data = {{"order_id", p.entry_order_id + "-protection"},
                             {"protects_order_id", p.entry_order_id},
                             {"agent_id", p.agent_id},
                             {"instrument", instrument},
                             {"kind", "protection"},
                             {"side", side_name(p.entry_side == TH_SIDE_BUY ? TH_SIDE_SELL : TH_SIDE_BUY)},
                             {"quantity", p.quantity},
                             {"code", code},
                             {"reason", reason},
                             {"venue", venue}};
      if (p.stop_loss > 0)
        data["stop_level"] = p.stop_level;
      if (p.take_profit > 0)
        data["target_level"] = p.target_level;
      audit("order_cancelled", p.entry_corr_id, data.dump());
      p.quantity = 0;
      p.entry_working = false;
    }
    b.protections.clear();
  }
}

std::string Simulator::validate(const th_order_intent &in, const InstrumentBook *book) const {
  if (!(std::isfinite(in.quantity) && in.quantity >= min_quantity))
    return "EXEC-001: quantity must be >= 0.001, got " + number(in.quantity);
  if (in.side != TH_SIDE_BUY && in.side != TH_SIDE_SELL)
    return "EXEC-002: unknown side " + std::to_string(in.side);
  if (in.order_type < TH_ORDER_MARKET || in.order_type > TH_ORDER_STOP_LIMIT)
    return "EXEC-003: unknown order_type " + std::to_string(in.order_type);
  if (in.time_in_force == TH_TIF_GTD)
    return "EXEC-004: time_in_force GTD is not supported by the simulator (the intent carries no expiry "
           "time)";
  if (in.time_in_force < 0 || in.time_in_force > TH_TIF_GTC)
    return "EXEC-004: unknown time_in_force " + std::to_string(in.time_in_force);
  bool has_limit = (in.flags & TH_INTENT_HAS_PRICE_LIMIT) && positive(in.price_limit);
  if ((in.order_type == TH_ORDER_LIMIT || in.order_type == TH_ORDER_STOP_LIMIT) && !has_limit)
    return "EXEC-005: limit and stop_limit orders need a price_limit > 0";
  if ((in.order_type == TH_ORDER_STOP || in.order_type == TH_ORDER_STOP_LIMIT) &&
      !((in.flags & TH_INTENT_HAS_STOP_PRICE) && positive(in.stop_price)))
    return "EXEC-006: stop and stop_limit orders need a stop_price > 0";
  if (in.instrument.len == 0)
    return "EXEC-007: instrument is empty";
  if (in.order_type == TH_ORDER_MARKET && !(book && book->has_price) && !has_limit)
    return "EXEC-008: no reference price for " + std::string(view(in.instrument)) +
           ": no signal price seen and no price_limit on the market order";
  if (!valid_corr_id(view(in.corr_id)))
    return "EXEC-009: corr_id must match ^[a-zA-Z0-9_-]{8,64}$";
  return {};
}

void Simulator::count_unknown_fields(const th_order_intent &in) {
  std::string_view extra = view(in.extra_json);
  if (extra.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return;
  nlohmann::json doc = nlohmann::json::parse(extra, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    log(TH_LOG_WARN, "exec-sim: intent extra_json is not a JSON object; ignored", view(in.corr_id));
    return;
  }
  for (const auto &item : doc.items()) {
    const std::string &name = item.key();
    th_label label{TH_STR("field_name"), str(name)};
    count("exec_sim_unknown_fields_total", 1, &label, 1);
    if (logged_unknown_fields_.insert(name).second)
      log(TH_LOG_INFO, "exec-sim: intent carries unknown field '" + name + "' (passed on, not used)",
          view(in.corr_id));
  }
}

Simulator::Outcome Simulator::try_execute(std::string_view instrument, InstrumentBook &book, Order &o,
                                          double price, bool price_observed, int64_t base_ns) {
  bool stop_type = o.type == TH_ORDER_STOP || o.type == TH_ORDER_STOP_LIMIT;
  if (stop_type && !o.triggered) {
    // Stops trigger on observed prices only, never on the price_limit fallback.
    if (!price_observed)
      return Outcome::not_executable;
    bool crossed = o.side == TH_SIDE_BUY ? price >= o.stop_price : price <= o.stop_price;
    if (!crossed)
      return Outcome::not_executable;
    o.triggered = true;
  }
  bool limit_priced = o.type == TH_ORDER_LIMIT || o.type == TH_ORDER_STOP_LIMIT;
  if (limit_priced && !(o.side == TH_SIDE_BUY ? price <= o.price_limit : price >= o.price_limit))
    return Outcome::not_executable;

  // Draw order (README "Random draws"): partial decision, partial fraction, slippage, latency.
  double quantity = o.remaining;
  bool partial = false;
  if (o.tif != TH_TIF_FOK && params_.partial_fill_prob > 0 && random_.uniform() < params_.partial_fill_prob) {
    double part = std::floor(o.remaining * random_.uniform(0.30, 0.95) * 1000) / 1000;
    if (part >= min_quantity && o.remaining - part >= min_quantity) {
      quantity = part;
      partial = true;
    }
  }
  double slippage = limit_priced ? 0 : draw_slippage_bps(o.has_max_slippage, o.max_slippage_bps);
  double fill_price = limit_priced ? price : adverse(price, o.side, slippage);
  last_fill_ns_ = base_ns + draw_latency_ns();
  o.remaining = partial ? round9(o.remaining - quantity) : 0;
  ++o.fills_emitted;
  emit_fill(o.order_id, o.corr_id, o.parent_corr_id, o.agent_id, instrument, o.side,
            partial ? TH_FILL_PARTIAL : TH_FILL_COMPLETE, quantity, o.quantity, fill_price, last_fill_ns_, {},
            slippage, o.fills_emitted);
  after_execution(book, o, quantity, fill_price);
  return partial ? Outcome::partial : Outcome::complete;
}

void Simulator::after_execution(InstrumentBook &book, const Order &o, double quantity, double price) {
  // An execution first reduces the agent's protections on the other side (it closes what they
  // protect); only what is left opens exposure that this order's own protection covers.
  double left = quantity;
  for (Protection &p : book.protections) {
    if (left <= 0)
      break;
    if (p.quantity <= 0 || p.entry_side == o.side || p.agent_id != o.agent_id)
      continue;
    double take = std::min(p.quantity, left);
    p.quantity = round9(p.quantity - take);
    left = round9(left - take);
  }
  if (left > 0 && (o.stop_loss > 0 || o.take_profit > 0)) {
    auto it = std::find_if(book.protections.begin(), book.protections.end(),
                           [&](const Protection &p) { return p.entry_seq == o.seq; });
    if (it == book.protections.end()) {
      Protection p;
      p.entry_seq = o.seq;
      p.entry_corr_id = o.corr_id;
      p.entry_order_id = o.order_id;
      p.agent_id = o.agent_id;
      p.entry_side = o.side;
      p.stop_loss = o.stop_loss;
      p.take_profit = o.take_profit;
      p.has_max_slippage = o.has_max_slippage;
      p.max_slippage_bps = o.max_slippage_bps;
      book.protections.push_back(std::move(p));
      it = std::prev(book.protections.end());
    }
    Protection &p = *it;
    p.quantity = round9(p.quantity + left);
    p.entry_quantity += left;
    p.entry_notional += left * price;
    double average = p.entry_notional / p.entry_quantity;
    bool is_long = p.entry_side == TH_SIDE_BUY;
    p.stop_level = is_long ? average * (1 - p.stop_loss) : average * (1 + p.stop_loss);
    p.target_level = is_long ? average * (1 + p.take_profit) : average * (1 - p.take_profit);
  }
  std::erase_if(book.protections, [](const Protection &p) { return p.quantity <= 0 && !p.entry_working; });
}

void Simulator::order_finished(InstrumentBook &book, const Order &o) {
  if (o.stop_loss <= 0 && o.take_profit <= 0)
    return;
  for (Protection &p : book.protections)
    if (p.entry_seq == o.seq)
      p.entry_working = false;
  std::erase_if(book.protections, [](const Protection &p) { return p.quantity <= 0 && !p.entry_working; });
}

void Simulator::check_protections(std::string_view instrument, InstrumentBook &book, double price,
                                  int64_t base_ns) {
  for (size_t i = 0; i < book.protections.size(); ++i) {
    Protection &p = book.protections[i];
    if (p.quantity <= 0)
      continue;
    bool is_long = p.entry_side == TH_SIDE_BUY;
    bool stop_hit = p.stop_loss > 0 && (is_long ? price <= p.stop_level : price >= p.stop_level);
    bool target_hit =
        !stop_hit && p.take_profit > 0 && (is_long ? price >= p.target_level : price <= p.target_level);
    if (!stop_hit && !target_hit)
      continue;
    int32_t side = is_long ? TH_SIDE_SELL : TH_SIDE_BUY;
    // The stop closes at market (adverse slippage); the target is a limit and closes at the price.
    double slippage = stop_hit ? draw_slippage_bps(p.has_max_slippage, p.max_slippage_bps) : 0;
    double fill_price = stop_hit ? adverse(price, side, slippage) : price;
    int64_t timestamp = base_ns + draw_latency_ns();
    closing_corr_id_.assign(p.entry_corr_id, 0, 61).append(stop_hit ? "-sl" : "-tp");
    closing_order_id_.assign(p.entry_order_id).append(stop_hit ? "-sl" : "-tp");
    double quantity = p.quantity;
    p.quantity = 0; // one cancels the other: both legs are gone
    ++p.closes_emitted;
    emit_fill(closing_order_id_, closing_corr_id_, p.entry_corr_id, p.agent_id, instrument, side,
              TH_FILL_COMPLETE, quantity, quantity, fill_price, timestamp, {}, slippage, p.closes_emitted);
  }
  std::erase_if(book.protections, [](const Protection &p) { return p.quantity <= 0 && !p.entry_working; });
}

void Simulator::expire_day_orders(int64_t now_ns) {
  int64_t day = utc_day(now_ns);
  if (day == current_day_)
    return;
  bool first = current_day_ == INT64_MIN;
  current_day_ = day;
  if (first)
    return;
  for (auto &[instrument, b] : books_) {
    for (Order &o : b.resting) {
      if (o.tif != TH_TIF_DAY || o.day == day)
        continue;
      cancel(instrument, o, now_ns, "EXEC-103: DAY order expired: the UTC day of the host clock changed");
      o.remaining = 0;
      order_finished(b, o);
    }
    std::erase_if(b.resting, [](const Order &o) { return o.remaining <= 0; });
  }
}

void Simulator::on_signal(const th_signal &signal) {
  int64_t now = now_ns();
  expire_day_orders(now);
  std::string_view instrument = view(signal.instrument);
  if (!(signal.flags & TH_SIGNAL_HAS_PRICE) || !positive(signal.price) || instrument.empty())
    return;
  InstrumentBook &b = book(instrument);
  b.has_price = true;
  b.last_price = signal.price;
  int64_t base = signal.timestamp_ns > 0 ? signal.timestamp_ns : now;
  for (size_t i = 0; i < b.resting.size(); ++i) {
    Order &o = b.resting[i];
    if (try_execute(instrument, b, o, signal.price, true, base) == Outcome::complete)
      order_finished(b, o);
  }
  std::erase_if(b.resting, [](const Order &o) { return o.remaining <= 0; });
  check_protections(instrument, b, signal.price, base);
}

void Simulator::on_order_intent(const th_order_intent &in) {
  int64_t now = now_ns();
  expire_day_orders(now);
  count_unknown_fields(in);
  std::string_view instrument = view(in.instrument);
  InstrumentBook *b = instrument.empty() ? nullptr : &book(instrument);
  int64_t base = in.timestamp_ns > 0 ? in.timestamp_ns : now;

  std::string error = validate(in, b);
  th_label status{TH_STR("status"), error.empty() ? th_str TH_STR("valid") : th_str TH_STR("invalid")};
  count("exec_sim_orders_received_total", 1, &status, 1);
  // The host's order id (ABI 1.1); from a host without one, an id unique per signal and agent.
  if (TH_HAS_FIELD(&in, th_order_intent, order_id) && in.order_id.len > 0)
    order_id_.assign(view(in.order_id));
  else
    order_id_.assign(view(in.corr_id)).append(".").append(view(in.agent_id));
  if (!error.empty()) {
    emit_fill(order_id_, view(in.corr_id), view(in.parent_corr_id), view(in.agent_id), instrument, in.side,
              TH_FILL_REJECTED, 0, in.quantity, 0, base, error, 0, 1);
    return;
  }

  Order &o = scratch_;
  o.seq = next_seq_++;
  o.corr_id.assign(view(in.corr_id));
  o.parent_corr_id.assign(view(in.parent_corr_id));
  o.agent_id.assign(view(in.agent_id));
  o.order_id.assign(order_id_);
  o.side = in.side;
  o.type = in.order_type;
  o.tif = in.time_in_force == 0 ? TH_TIF_DAY : in.time_in_force;
  o.quantity = o.remaining = in.quantity;
  o.has_limit = (in.flags & TH_INTENT_HAS_PRICE_LIMIT) && positive(in.price_limit);
  o.price_limit = o.has_limit ? in.price_limit : 0;
  o.stop_price = (in.flags & TH_INTENT_HAS_STOP_PRICE) ? in.stop_price : 0;
  o.triggered = false;
  o.day = utc_day(now);
  o.stop_loss = (in.flags & TH_INTENT_HAS_STOP_LOSS) && positive(in.stop_loss) ? in.stop_loss : 0;
  o.take_profit = (in.flags & TH_INTENT_HAS_TAKE_PROFIT) && positive(in.take_profit) ? in.take_profit : 0;
  o.has_max_slippage = (in.flags & TH_INTENT_HAS_MAX_SLIPPAGE) && std::isfinite(in.max_slippage_bps);
  o.max_slippage_bps = o.has_max_slippage ? in.max_slippage_bps : 0;
  o.fills_emitted = 0;

  // Reference: the last signal price, else the intent's price_limit (validate() ensured one
  // exists for market orders).
  double reference = b->has_price ? b->last_price : o.price_limit;
  Outcome outcome = try_execute(instrument, *b, o, reference, b->has_price, base);
  if (outcome == Outcome::complete) {
    order_finished(*b, o);
    return;
  }
  if (o.tif == TH_TIF_IOC || o.tif == TH_TIF_FOK) {
    if (outcome == Outcome::not_executable) {
      cancel(instrument, o, base,
             o.tif == TH_TIF_IOC ? "EXEC-101: IOC order not executable on arrival, cancelled"
                                 : "EXEC-101: FOK order not executable on arrival, cancelled");
    } else {
      reason_.assign("EXEC-102: IOC remainder ")
          .append(number(o.remaining))
          .append(" cancelled after a partial fill");
      cancel(instrument, o, last_fill_ns_, reason_);
    }
    o.remaining = 0;
    order_finished(*b, o);
    return;
  }
  b->resting.push_back(o); // GTC and DAY keep working
}

} // namespace exec_sim
