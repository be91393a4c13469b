// The risk-limits plugin: pre-trade checks run in a fixed order; the first failing rule rejects
// the intent through host reject_order(rule, reason). Rules and reasons are listed in README.md.
#include "instrument_patterns.hpp"
#include "kill_switch.hpp"
#include "number_text.hpp"
#include "order_rate_window.hpp"
#include "risk_params.hpp"
#include "risk_schema.hpp"

#include <tradehost/plugin.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace risk_limits {
namespace {

using tradehost::str;
using tradehost::view;

// Lets maps be searched with the intent's string_view without a copy.
struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class V> using StringMap = std::unordered_map<std::string, V, TransparentHash, std::equal_to<>>;

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

class RiskLimits : public tradehost::PluginBase {
public:
  RiskLimits(const th_host_api *api, th_host *host, std::string_view params_json)
      : PluginBase(api, host), params_(parse_params(params_json)) {
    if (params_.allow_instruments)
      allow_.emplace("allow_instruments", *params_.allow_instruments);
    if (params_.deny_instruments)
      deny_.emplace("deny_instruments", *params_.deny_instruments);
    if (params_.kill_switch_file) {
      kill_switch_.emplace(*params_.kill_switch_file,
                           std::chrono::milliseconds(params_.kill_switch_check_ms));
      log(TH_LOG_WARN, "risk-limits: kill_switch_file is deprecated (still honoured): use the host's trading "
                       "state instead (POST /admin/trading-state, `tradehost trading-state halted`)");
    }
  }

  // Last prices for max_order_notional.
  void on_signal(const th_signal &signal) {
    if ((signal.flags & TH_SIGNAL_HAS_PRICE) && usable_price(signal.price))
      remember_price(view(signal.instrument), signal.price);
  }

  void on_fill(const th_fill &fill) {
    if (fill.quantity_filled > 0 && usable_price(fill.avg_fill_price))
      remember_price(view(fill.instrument), fill.avg_fill_price);
  }

  bool check_order(const th_order_intent &intent) {
    OrderUnderCheck order(intent, *this);
    // The documented rule order; the first failing rule rejects.
    for (auto rule : {&RiskLimits::check_trading_state, &RiskLimits::check_kill_switch,
                      &RiskLimits::check_instrument_lists, &RiskLimits::check_order_quantity,
                      &RiskLimits::check_order_notional, &RiskLimits::check_position,
                      &RiskLimits::check_daily_loss, &RiskLimits::check_orders_per_second}) {
      if (std::optional<Rejection> r = (this->*rule)(order)) {
        PluginBase::reject(r->rule, r->reason);
        return false;
      }
    }
    // Only approved orders use up the rate budget.
    if (params_.max_orders_per_second)
      rate_window(order.agent).record(order.now_ns);
    return true;
  }

private:
  struct Rejection {
    std::string_view rule;
    std::string reason;
  };

  // The facts of one intent the rules share; the position is read at most once, on demand.
  struct OrderUnderCheck {
    OrderUnderCheck(const th_order_intent &i, const RiskLimits &plugin)
        : intent(i), owner(plugin), instrument(view(i.instrument)), agent(view(i.agent_id)),
          quantity(i.quantity) {
      if (i.side != TH_SIDE_BUY && i.side != TH_SIDE_SELL)
        throw std::invalid_argument("risk-limits: intent " + std::string(view(i.corr_id)) +
                                    " has unknown side " + std::to_string(i.side));
      signed_quantity = i.side == TH_SIDE_BUY ? quantity : -quantity;
      side = i.side == TH_SIDE_BUY ? "buy" : "sell";
    }
    double position() {
      if (!position_now)
        position_now = owner.read_position(agent, instrument).quantity;
      return *position_now;
    }
    // Opposite sign to the current position and not past flat.
    bool reduces_position() {
      const double before = position();
      return before * signed_quantity < 0 && quantity <= std::fabs(before);
    }

    const th_order_intent &intent;
    const RiskLimits &owner;
    std::string_view instrument, agent;
    double quantity, signed_quantity = 0;
    const char *side = "";
    int64_t now_ns = 0; // set by the rate rule
    std::optional<double> position_now;
  };

  // The host's trading state (ABI 1.1 trading_state; active from a 1.0 host). A 1.1 host
  // enforces it before the risk chain already; this keeps the rule where another host does not.
  std::optional<Rejection> check_trading_state(OrderUnderCheck &o) {
    const int32_t state = trading_state();
    if (state == TH_TRADING_HALTED)
      return Rejection{"trading_halted", "trading is halted (host trading state)"};
    if (state == TH_TRADING_REDUCING && !o.reduces_position())
      return Rejection{"trading_reducing",
                       "trading is reducing: only position-reducing orders pass (position " +
                           number_text(o.position()) + ", " + o.side + " " + number_text(o.quantity) + ")"};
    return std::nullopt;
  }

  std::optional<Rejection> check_kill_switch(OrderUnderCheck &) {
    if (!kill_switch_ || !kill_switch_engaged())
      return std::nullopt;
    if (int error = kill_switch_->check_error())
      return Rejection{"kill_switch", "kill switch engaged: cannot check " + kill_switch_->path() + ": " +
                                          std::strerror(error)};
    return Rejection{"kill_switch", "kill switch engaged: " + kill_switch_->path() + " exists"};
  }

  // Deny first, so deny wins when both lists match.
  std::optional<Rejection> check_instrument_lists(OrderUnderCheck &o) {
    if (deny_)
      if (auto entry = deny_->match(o.instrument))
        return Rejection{"instrument_denied", "instrument " + std::string(o.instrument) +
                                                  " is denied by deny_instruments entry " + quoted(*entry)};
    if (allow_ && !allow_->match(o.instrument))
      return Rejection{"instrument_not_allowed",
                       "instrument " + std::string(o.instrument) + " matches no allow_instruments entry"};
    return std::nullopt;
  }

  std::optional<Rejection> check_order_quantity(OrderUnderCheck &o) {
    if (!params_.max_order_quantity || o.quantity <= *params_.max_order_quantity)
      return std::nullopt;
    return Rejection{"max_order_quantity",
                     "order quantity " + number_text(o.quantity) + " exceeds max_order_quantity " +
                         number_text(*params_.max_order_quantity) + " for " + std::string(o.instrument)};
  }

  // Price: the intent's price_limit, else the last signal or fill price of the instrument.
  std::optional<Rejection> check_order_notional(OrderUnderCheck &o) {
    if (!params_.max_order_notional)
      return std::nullopt;
    const double limit = *params_.max_order_notional;
    std::optional<double> price;
    if (o.intent.flags & TH_INTENT_HAS_PRICE_LIMIT)
      price = o.intent.price_limit;
    else if (auto it = last_prices_.find(o.instrument); it != last_prices_.end())
      price = it->second;
    if (!price) {
      if (!params_.reject_notional_without_price)
        return std::nullopt;
      return Rejection{"max_order_notional", "no price known for " + std::string(o.instrument) +
                                                 " to check max_order_notional " + number_text(limit) +
                                                 " (no price_limit, no signal or fill price seen)"};
    }
    const double notional = o.quantity * *price;
    if (notional <= limit)
      return std::nullopt;
    return Rejection{"max_order_notional", "order notional " + number_text(notional) + " (" +
                                               number_text(o.quantity) + " x " + number_text(*price) +
                                               ") exceeds max_order_notional " + number_text(limit) +
                                               " for " + std::string(o.instrument)};
  }

  std::optional<Rejection> check_position(OrderUnderCheck &o) {
    if (!params_.max_position)
      return std::nullopt;
    const double after = o.position() + o.signed_quantity;
    if (std::fabs(after) <= *params_.max_position)
      return std::nullopt;
    if (params_.allow_reducing_orders && o.reduces_position())
      return std::nullopt;
    return Rejection{"max_position", "position " + number_text(after) + " would exceed max_position " +
                                         number_text(*params_.max_position) + " for " +
                                         std::string(o.instrument) + " (now " + number_text(o.position()) +
                                         ", " + o.side + " " + number_text(o.quantity) + ")"};
  }

  std::optional<Rejection> check_daily_loss(OrderUnderCheck &o) {
    if (!params_.max_daily_loss)
      return std::nullopt;
    // Empty instrument: PnL summed over every instrument of the agent.
    const double pnl_today = read_position(o.agent, {}).realized_pnl_today;
    if (pnl_today > -*params_.max_daily_loss)
      return std::nullopt;
    if (params_.allow_reducing_orders && o.reduces_position())
      return std::nullopt;
    return Rejection{"max_daily_loss", "realized PnL today " + number_text(pnl_today) + " for agent " +
                                           std::string(o.agent) + " has reached max_daily_loss " +
                                           number_text(*params_.max_daily_loss)};
  }

  std::optional<Rejection> check_orders_per_second(OrderUnderCheck &o) {
    if (!params_.max_orders_per_second)
      return std::nullopt;
    o.now_ns = now_ns();
    if (!rate_window(o.agent).full(o.now_ns))
      return std::nullopt;
    const std::string limit = std::to_string(*params_.max_orders_per_second);
    return Rejection{"max_orders_per_second",
                     "agent " + std::string(o.agent) + " already has " + limit +
                         " orders approved in the last second (max_orders_per_second " + limit + ")"};
  }

  static bool usable_price(double price) { return std::isfinite(price) && price > 0; }

  void remember_price(std::string_view instrument, double price) {
    if (auto it = last_prices_.find(instrument); it != last_prices_.end())
      it->second = price;
    else
      last_prices_.emplace(std::string(instrument), price);
  }

  bool kill_switch_engaged() {
    const bool engaged = kill_switch_->engaged();
    if (kill_switch_->just_checked())
      api()->metric(host(), TH_METRIC_GAUGE, str("risk_limits_kill_switch_engaged"), nullptr, 0,
                    engaged ? 1 : 0);
    return engaged;
  }

  th_position read_position(std::string_view agent, std::string_view instrument) const {
    th_position p{};
    p.struct_size = sizeof p;
    th_status st = api()->get_position(host(), str(agent), str(instrument), &p);
    if (st != TH_OK)
      throw std::runtime_error("risk-limits: get_position(" + quoted(agent) + ", " + quoted(instrument) +
                               ") failed with status " + std::to_string(st));
    return p;
  }

  OrderRateWindow &rate_window(std::string_view agent) {
    auto it = rate_windows_.find(agent);
    if (it == rate_windows_.end())
      it = rate_windows_
               .emplace(std::string(agent),
                        OrderRateWindow(static_cast<std::size_t>(*params_.max_orders_per_second)))
               .first;
    return it->second;
  }

  Params params_;
  std::optional<InstrumentPatterns> allow_, deny_;
  std::optional<KillSwitch> kill_switch_;
  StringMap<double> last_prices_;
  StringMap<OrderRateWindow> rate_windows_;
};

} // namespace
} // namespace risk_limits

TRADEHOST_PLUGIN(risk_limits::RiskLimits, TH_KIND_RISK, "risk-limits", "1.0.0",
                 "Pre-trade risk limits: kill switch, instrument lists, order size, notional, position, "
                 "daily loss, order rate",
                 risk_limits::kParamsSchema)
