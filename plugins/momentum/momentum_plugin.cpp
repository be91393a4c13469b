// The momentum strategy plugin: keeps per-instrument price windows and turns signals into order
// intents or audited skips (rules in README.md and momentum_rule.cpp).
#include "momentum_params.hpp"
#include "momentum_rule.hpp"
#include "momentum_schema.hpp"
#include "price_window.hpp"

#include <tradehost/plugin.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace momentum {
namespace {

using tradehost::str;
using tradehost::view;

constexpr std::string_view kStrategyName = "momentum";

// Lets the window map be searched with the signal's string_view without a copy.
struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

const char *action_name(int32_t action) {
  switch (action) {
  case TH_SIGNAL_BUY:
    return "buy";
  case TH_SIGNAL_SELL:
    return "sell";
  case TH_SIGNAL_HOLD:
    return "hold";
  case TH_SIGNAL_CLOSE:
    return "close";
  default:
    return "unknown";
  }
}

class Momentum : public tradehost::PluginBase {
public:
  Momentum(const th_host_api *api, th_host *host, std::string_view params_json)
      : PluginBase(api, host), params_(parse_params(params_json)) {}

  void on_signal(const th_signal &signal) {
    const std::string_view instrument = view(signal.instrument);
    SignalInput input;
    input.action = signal.action;
    input.strength = signal.strength;
    if ((signal.flags & TH_SIGNAL_HAS_PRICE) && std::isfinite(signal.price))
      input.price = signal.price;

    // Every priced signal enters the window first, whatever its action or strength.
    PriceWindow &window = window_for(instrument);
    if (input.price)
      window.push(*input.price);

    const Decision decision = decide(params_, input, window, [&] { return position_quantity(instrument); });
    switch (decision.kind) {
    case Decision::Kind::nothing:
      return;
    case Decision::Kind::skip:
      report_skip(signal, input, decision);
      return;
    case Decision::Kind::order:
      emit_order(signal, decision);
      return;
    }
  }

private:
  PriceWindow &window_for(std::string_view instrument) {
    auto it = windows_.find(instrument);
    if (it == windows_.end())
      it = windows_.emplace(std::string(instrument), PriceWindow(static_cast<std::size_t>(params_.lookback)))
               .first;
    return it->second;
  }

  double position_quantity(std::string_view instrument) const {
    th_position p{};
    p.struct_size = sizeof p;
    // Empty agent id: this agent's own position.
    th_status st = api()->get_position(host(), th_str{nullptr, 0}, str(instrument), &p);
    if (st != TH_OK)
      throw std::runtime_error("momentum: get_position(" + std::string(instrument) + ") failed with status " +
                               std::to_string(st));
    return p.quantity;
  }

  void emit_order(const th_signal &signal, const Decision &decision) {
    th_order_intent intent{};
    intent.struct_size = sizeof intent;
    intent.corr_id = signal.corr_id;
    intent.instrument = signal.instrument;
    intent.side = decision.side;
    intent.order_type = TH_ORDER_MARKET;
    intent.time_in_force = TH_TIF_DAY;
    intent.quantity = decision.quantity;
    intent.timestamp_ns = signal.timestamp_ns;
    intent.strategy = str(kStrategyName);
    intent.flags = TH_INTENT_HAS_MAX_POSITION;
    intent.max_position = params_.max_position;
    // A close flattens: a protective stop or target on it would reopen a position.
    if (!decision.closing) {
      intent.flags |= TH_INTENT_HAS_STOP_LOSS;
      intent.stop_loss = params_.stop_loss;
      if (params_.take_profit) {
        intent.flags |= TH_INTENT_HAS_TAKE_PROFIT;
        intent.take_profit = *params_.take_profit;
      }
    }
    th_status st = emit(intent);
    if (st != TH_OK)
      throw std::runtime_error("momentum: emit_order_intent for corr_id " +
                               std::string(view(signal.corr_id)) + " failed with status " +
                               std::to_string(st));
    const th_label side{str("side"), str(decision.side == TH_SIDE_BUY ? "buy" : "sell")};
    count("momentum_intents_emitted_total", 1, &side, 1);
  }

  void report_skip(const th_signal &signal, const SignalInput &input, const Decision &decision) {
    const th_label reason{str("reason"), str(decision.reason)};
    count("momentum_signals_skipped_total", 1, &reason, 1);

    nlohmann::json data = {{"agent_decision", "skip"},
                           {"reason", decision.reason},
                           {"detail", decision.detail},
                           {"instrument", std::string(view(signal.instrument))},
                           {"signal", action_name(signal.action)},
                           {"strength", signal.strength},
                           {"strategy", kStrategyName}};
    if (input.price)
      data["price"] = *input.price;
    if (decision.sma)
      data["sma"] = *decision.sma;
    if (decision.position)
      data["position"] = *decision.position;
    audit("decision_made", view(signal.corr_id), data.dump());
    log(TH_LOG_DEBUG, "skip " + decision.reason + ": " + decision.detail, view(signal.corr_id));
  }

  Params params_;
  std::unordered_map<std::string, PriceWindow, TransparentHash, std::equal_to<>> windows_;
};

} // namespace
} // namespace momentum

TRADEHOST_PLUGIN(
    momentum::Momentum, TH_KIND_STRATEGY, "momentum", "1.0.0",
    "Momentum strategy: follows buy/sell signals confirmed by the price's SMA, flattens on close",
    momentum::kParamsSchema)
