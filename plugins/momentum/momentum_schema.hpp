// The published JSON Schema (draft 7) of the momentum parameters. momentum_params.cpp enforces
// the same rules in create() so a host that skips schema validation still gets clear errors.
#pragma once

namespace momentum {

inline constexpr char kParamsSchema[] = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "momentum strategy parameters",
  "description": "Every parameter is optional; an absent one takes its default.",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "lookback": {
      "description": "Number of most recent signal prices kept per instrument; the SMA is their mean. Confirmation applies once this many prices are known.",
      "type": "integer", "minimum": 1, "maximum": 10000, "default": 20
    },
    "min_strength": {
      "description": "buy/sell signals with strength below this are skipped (reason below_min_strength); equal acts.",
      "type": "number", "minimum": 0, "maximum": 1, "default": 0.6
    },
    "base_quantity": {
      "description": "Order quantity for buy/sell before clamping to max_position.",
      "type": "number", "minimum": 0.001, "default": 100
    },
    "max_position": {
      "description": "Largest absolute position (long or short) a buy/sell may lead to; also sent as risk_params.max_position.",
      "type": "number", "minimum": 0.001, "default": 1000
    },
    "stop_loss": {
      "description": "Fraction of the entry price sent as risk_params.stop_loss on buy/sell intents.",
      "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.02
    },
    "take_profit": {
      "description": "Fraction of the entry price sent as risk_params.take_profit on buy/sell intents; absent = no take-profit.",
      "type": "number", "exclusiveMinimum": 0
    },
    "order_type": {
      "description": "Order type of every intent; only market is supported.",
      "type": "string", "enum": ["market"], "default": "market"
    }
  }
})json";

} // namespace momentum
