#include "momentum_rule.hpp"

#include "number_text.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace momentum {
namespace {

Decision skip(std::string reason, std::string detail) {
  Decision d;
  d.kind = Decision::Kind::skip;
  d.reason = std::move(reason);
  d.detail = std::move(detail);
  return d;
}

Decision order(int32_t side, double quantity, bool closing) {
  Decision d;
  d.kind = Decision::Kind::order;
  d.side = side;
  d.quantity = quantity;
  d.closing = closing;
  return d;
}

// A mean of equal prices can differ from them in the last bit; treat such ties as equal.
double tie_tolerance(double sma) {
  return 1e-9 * std::max(1.0, std::fabs(sma));
}

Decision close(double position) {
  if (std::fabs(position) < kMinOrderQuantity)
    return {}; // flat: nothing to flatten
  return order(position > 0 ? TH_SIDE_SELL : TH_SIDE_BUY, std::fabs(position), true);
}

Decision enter(const Params &params, const SignalInput &signal, const PriceWindow &window,
               const std::function<double()> &read_position) {
  const bool buy = signal.action == TH_SIGNAL_BUY;
  const char *verb = buy ? "buy" : "sell";
  if (!(signal.strength >= params.min_strength)) // NaN strength never acts
    return skip("below_min_strength", "strength " + number_text(signal.strength) + " is below min_strength " +
                                          number_text(params.min_strength));

  std::optional<double> sma;
  if (window.full()) {
    sma = window.mean();
    const std::string sma_text = "SMA(" + std::to_string(params.lookback) + ") " + number_text(*sma);
    if (!signal.price) {
      Decision d =
          skip("no_price", std::string(verb) + " signal has no price to confirm against " + sma_text);
      d.sma = sma;
      return d;
    }
    const double price = *signal.price;
    const bool confirmed = buy ? price >= *sma - tie_tolerance(*sma) : price <= *sma + tie_tolerance(*sma);
    if (!confirmed) {
      Decision d =
          skip("sma_not_confirmed", std::string(verb) + " at " + number_text(price) +
                                        " not confirmed: price is " + (buy ? "below " : "above ") + sma_text);
      d.sma = sma;
      return d;
    }
  }

  // Room left before the resulting position passes max_position on this side.
  const double position = read_position();
  const double room = buy ? params.max_position - position : params.max_position + position;
  const double quantity = std::min(params.base_quantity, room);
  if (quantity < kMinOrderQuantity) {
    Decision d =
        skip("max_position_reached", "position " + number_text(position) + " leaves no room to " + verb +
                                         " under max_position " + number_text(params.max_position));
    d.sma = sma;
    d.position = position;
    return d;
  }
  return order(buy ? TH_SIDE_BUY : TH_SIDE_SELL, quantity, false);
}

} // namespace

Decision decide(const Params &params, const SignalInput &signal, const PriceWindow &window,
                const std::function<double()> &read_position) {
  switch (signal.action) {
  case TH_SIGNAL_HOLD:
    return {};
  case TH_SIGNAL_CLOSE:
    return close(read_position());
  case TH_SIGNAL_BUY:
  case TH_SIGNAL_SELL:
    return enter(params, signal, window, read_position);
  default:
    throw std::invalid_argument("momentum: unknown signal action " + std::to_string(signal.action));
  }
}

} // namespace momentum
