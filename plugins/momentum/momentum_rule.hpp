// The momentum decision for one signal: an order, a counted skip, or nothing. Pure: the caller
// updates the price window first and supplies the position on demand.
#pragma once

#include "momentum_params.hpp"
#include "price_window.hpp"

#include <tradehost/plugin.h>

#include <functional>
#include <optional>
#include <string>

namespace momentum {

// Orders below the contract's minimum quantity cannot be sent: such a target is "no room".
inline constexpr double kMinOrderQuantity = 0.001;

struct SignalInput {
  int32_t action = 0; // TH_SIGNAL_*
  double strength = 0;
  std::optional<double> price;
};

struct Decision {
  enum class Kind { nothing, order, skip };
  Kind kind = Kind::nothing;
  // order
  int32_t side = 0; // TH_SIDE_*
  double quantity = 0;
  bool closing = false; // a close: flattens, carries no protective stop/target
  // skip
  std::string reason; // machine label: the metric label and the audit "reason"
  std::string detail; // human-readable, with the numbers
  std::optional<double> sma;
  std::optional<double> position;
};

Decision decide(const Params &params, const SignalInput &signal, const PriceWindow &window,
                const std::function<double()> &read_position);

} // namespace momentum
