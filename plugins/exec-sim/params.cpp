#include "params.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

namespace exec_sim {
namespace {

[[noreturn]] void fail(const std::string &what) {
  throw std::invalid_argument("exec-sim params: " + what);
}

double non_negative(const nlohmann::json &value, const std::string &name) {
  if (!value.is_number())
    fail("'" + name + "' must be a number");
  double v = value.get<double>();
  if (!std::isfinite(v) || v < 0)
    fail("'" + name + "' must be a finite number >= 0, got " + value.dump());
  return v;
}

} // namespace

Params parse_params(std::string_view json_text) {
  Params p;
  if (json_text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return p;
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    fail("must be a JSON object");
  for (const auto &[name, value] : doc.items()) {
    if (name == "seed") {
      if (value.is_number_unsigned())
        p.seed = value.get<uint64_t>();
      else if (value.is_number_integer() && value.get<int64_t>() >= 0)
        p.seed = static_cast<uint64_t>(value.get<int64_t>());
      else
        fail("'seed' must be an integer >= 0, got " + value.dump());
    } else if (name == "slippage_bps") {
      p.slippage_bps = non_negative(value, name);
    } else if (name == "min_latency_ms") {
      p.min_latency_ms = non_negative(value, name);
    } else if (name == "max_latency_ms") {
      p.max_latency_ms = non_negative(value, name);
    } else if (name == "partial_fill_prob") {
      p.partial_fill_prob = non_negative(value, name);
      if (p.partial_fill_prob > 1)
        fail("'partial_fill_prob' must be <= 1, got " + value.dump());
    } else if (name == "commission_per_share") {
      p.commission_per_share = non_negative(value, name);
    } else if (name == "fee_bps") {
      p.fee_bps = non_negative(value, name);
    } else if (name == "regulatory_fee_bps") {
      p.regulatory_fee_bps = non_negative(value, name);
    } else {
      fail("unknown parameter '" + name + "'");
    }
  }
  if (p.max_latency_ms < p.min_latency_ms)
    fail("'max_latency_ms' must be >= 'min_latency_ms'");
  return p;
}

} // namespace exec_sim
