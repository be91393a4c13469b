#include "momentum_params.hpp"

#include "number_text.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

namespace momentum {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string &what) {
  throw std::invalid_argument("momentum params: " + what);
}

double number(const json &value, const char *name) {
  if (!value.is_number())
    fail(std::string(name) + " must be a number, got " + value.dump());
  return value.get<double>();
}

// Draft 7 "integer": any number with a zero fractional part.
int integer(const json &value, const char *name, int low, int high) {
  double n = number(value, name);
  if (std::floor(n) != n)
    fail(std::string(name) + " must be an integer, got " + value.dump());
  if (n < low || n > high)
    fail(std::string(name) + " must be in " + std::to_string(low) + ".." + std::to_string(high) + ", got " +
         value.dump());
  return static_cast<int>(n);
}

double at_least(const json &value, const char *name, double low) {
  double n = number(value, name);
  if (!(n >= low))
    fail(std::string(name) + " must be >= " + number_text(low) + ", got " + value.dump());
  return n;
}

double positive(const json &value, const char *name) {
  double n = number(value, name);
  if (!(n > 0))
    fail(std::string(name) + " must be > 0, got " + value.dump());
  return n;
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
    if (key == "lookback") {
      p.lookback = integer(value, "lookback", 1, 10000);
    } else if (key == "min_strength") {
      double n = number(value, "min_strength");
      if (!(n >= 0 && n <= 1))
        fail("min_strength must be in 0..1, got " + value.dump());
      p.min_strength = n;
    } else if (key == "base_quantity") {
      p.base_quantity = at_least(value, "base_quantity", 0.001);
    } else if (key == "max_position") {
      p.max_position = at_least(value, "max_position", 0.001);
    } else if (key == "stop_loss") {
      p.stop_loss = positive(value, "stop_loss");
      if (!(p.stop_loss < 1))
        fail("stop_loss must be < 1, got " + value.dump());
    } else if (key == "take_profit") {
      p.take_profit = positive(value, "take_profit");
    } else if (key == "order_type") {
      if (value != "market")
        fail("order_type must be \"market\", got " + value.dump());
    } else {
      fail("unknown parameter \"" + key +
           "\" (allowed: lookback, min_strength, base_quantity, max_position, stop_loss, take_profit, "
           "order_type)");
    }
  }
  return p;
}

} // namespace momentum
