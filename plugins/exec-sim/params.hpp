// exec-sim parameters: the JSON Schema the host validates against, and the parser the plugin
// itself runs (it re-checks everything, since a plugin may be created without the host's check).
#pragma once

#include <cstdint>
#include <string_view>

namespace exec_sim {

// Draft 7, additionalProperties false; every property has its default. A char array (not a
// pointer) so TH_STR() can take its size.
inline constexpr char params_schema[] = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "exec-sim parameters",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "seed": {"type": "integer", "minimum": 0, "default": 0,
      "description": "seed of the std::mt19937_64 behind every random draw"},
    "slippage_bps": {"type": "number", "minimum": 0, "default": 0,
      "description": "largest adverse slippage of a market-priced execution, in basis points"},
    "min_latency_ms": {"type": "number", "minimum": 0, "default": 0,
      "description": "smallest simulated latency added to fill timestamps (the simulator never sleeps)"},
    "max_latency_ms": {"type": "number", "minimum": 0, "default": 0,
      "description": "largest simulated latency; must be >= min_latency_ms"},
    "partial_fill_prob": {"type": "number", "minimum": 0, "maximum": 1, "default": 0,
      "description": "probability that an execution fills only 30-95% of the remaining quantity"},
    "commission_per_share": {"type": "number", "minimum": 0, "default": 0,
      "description": "commission per unit filled"},
    "fee_bps": {"type": "number", "minimum": 0, "default": 0,
      "description": "exchange fee on the filled notional, in basis points"},
    "regulatory_fee_bps": {"type": "number", "minimum": 0, "default": 0,
      "description": "regulatory fee on the filled notional, in basis points"}
  }
})json";

struct Params {
  uint64_t seed = 0;
  double slippage_bps = 0;
  double min_latency_ms = 0;
  double max_latency_ms = 0;
  double partial_fill_prob = 0;
  double commission_per_share = 0;
  double fee_bps = 0;
  double regulatory_fee_bps = 0;
};

// Parses the params JSON object (empty text = all defaults). Throws std::invalid_argument naming
// the offending parameter.
Params parse_params(std::string_view json_text);

} // namespace exec_sim
