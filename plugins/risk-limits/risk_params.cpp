#include "risk_params.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <set>
#include <stdexcept>

namespace risk_limits {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string &what) {
  throw std::invalid_argument("risk-limits params: " + what);
}

double number(const json &value, const std::string &name) {
  if (!value.is_number())
    fail(name + " must be a number, got " + value.dump());
  return value.get<double>();
}

double positive(const json &value, const std::string &name) {
  double n = number(value, name);
  if (!(n > 0))
    fail(name + " must be > 0, got " + value.dump());
  return n;
}

// Draft 7 "integer": any number with a zero fractional part.
int integer(const json &value, const std::string &name, int low, int high) {
  double n = number(value, name);
  if (std::floor(n) != n)
    fail(name + " must be an integer, got " + value.dump());
  if (n < low || n > high)
    fail(name + " must be in " + std::to_string(low) + ".." + std::to_string(high) + ", got " + value.dump());
  return static_cast<int>(n);
}

std::vector<std::string> instrument_list(const json &value, const std::string &name) {
  if (!value.is_array() || value.empty())
    fail(name + " must be a non-empty array of strings, got " + value.dump());
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const json &item : value) {
    if (!item.is_string())
      fail(name + " entries must be strings, got " + item.dump());
    std::string s = item.get<std::string>();
    if (!seen.insert(s).second)
      fail(name + " lists \"" + s + "\" twice");
    out.push_back(std::move(s));
  }
  return out;
}

} // namespace

Params parse_params(std::string_view params_json) {
  json doc = json::object();
  if (!params_json.empty()) {
    try {
      doc = json::parse(params_json);
    } catch (const json::parse_error &e) {
      fail(std::string("not valid JSON: ") + e.what());
    }
  }
  if (!doc.is_object())
    fail("must be a JSON object, got " + doc.dump());

  Params p;
  for (const auto &[key, value] : doc.items()) {
    if (key == "max_position") {
      double n = number(value, key);
      if (!(n >= 0))
        fail("max_position must be >= 0, got " + value.dump());
      p.max_position = n;
    } else if (key == "max_order_quantity") {
      p.max_order_quantity = positive(value, key);
    } else if (key == "max_order_notional") {
      p.max_order_notional = positive(value, key);
    } else if (key == "notional_without_price") {
      if (value != "reject" && value != "allow")
        fail("notional_without_price must be \"reject\" or \"allow\", got " + value.dump());
      p.reject_notional_without_price = value == "reject";
    } else if (key == "max_orders_per_second") {
      p.max_orders_per_second = integer(value, key, 1, 1000000);
    } else if (key == "allow_instruments") {
      p.allow_instruments = instrument_list(value, key);
    } else if (key == "deny_instruments") {
      p.deny_instruments = instrument_list(value, key);
    } else if (key == "max_daily_loss") {
      p.max_daily_loss = positive(value, key);
    } else if (key == "allow_reducing_orders") {
      if (!value.is_boolean())
        fail("allow_reducing_orders must be true or false, got " + value.dump());
      p.allow_reducing_orders = value.get<bool>();
    } else if (key == "kill_switch_file") {
      if (!value.is_string() || value.get<std::string>().empty())
        fail("kill_switch_file must be a non-empty path string, got " + value.dump());
      p.kill_switch_file = value.get<std::string>();
    } else if (key == "kill_switch_check_ms") {
      p.kill_switch_check_ms = integer(value, key, 0, 60000);
    } else {
      fail("unknown parameter \"" + key +
           "\" (allowed: max_position, max_order_quantity, max_order_notional, notional_without_price, "
           "max_orders_per_second, allow_instruments, deny_instruments, max_daily_loss, "
           "allow_reducing_orders, "
           "kill_switch_file, kill_switch_check_ms)");
    }
  }
  return p;
}

} // namespace risk_limits
