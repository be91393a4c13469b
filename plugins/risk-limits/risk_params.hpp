// The risk-limits parameters: every rule optional (absent = off).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace risk_limits {

struct Params {
  std::optional<double> max_position;
  std::optional<double> max_order_quantity;
  std::optional<double> max_order_notional;
  bool reject_notional_without_price = true; // notional_without_price: "reject" (default) | "allow"
  std::optional<int> max_orders_per_second;
  std::optional<std::vector<std::string>> allow_instruments;
  std::optional<std::vector<std::string>> deny_instruments;
  std::optional<double> max_daily_loss;
  bool allow_reducing_orders = false;
  std::optional<std::string> kill_switch_file;
  int kill_switch_check_ms = 100;
};

// Parses and checks params against the rules of kParamsSchema. Throws std::invalid_argument
// naming the parameter, the rule and the value given. Empty text means {}.
Params parse_params(std::string_view params_json);

} // namespace risk_limits
