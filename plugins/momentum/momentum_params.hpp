// The momentum parameters with their defaults, read from the params JSON text.
#pragma once

#include <optional>
#include <string_view>

namespace momentum {

struct Params {
  int lookback = 20;
  double min_strength = 0.6;
  double base_quantity = 100;
  double max_position = 1000;
  double stop_loss = 0.02;
  std::optional<double> take_profit; // absent: intents carry no take_profit
};

// Parses and checks params against the rules of kParamsSchema. Throws std::invalid_argument
// naming the parameter, the rule and the value given. Empty text means {}.
Params parse_params(std::string_view params_json);

} // namespace momentum
