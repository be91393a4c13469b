// The published JSON Schema (draft 7) of the risk-limits parameters. risk_params.cpp enforces
// the same rules in create() so a host that skips schema validation still gets clear errors.
#pragma once

namespace risk_limits {

inline constexpr char kParamsSchema[] = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "risk-limits parameters",
  "description": "Every rule is optional: an absent parameter turns its rule off. Rules run in the order kill_switch, instrument_denied, instrument_not_allowed, max_order_quantity, max_order_notional, max_position, max_daily_loss, max_orders_per_second; the first failing rule rejects.",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "max_position": {
      "description": "Rule max_position: reject when |position + signed order quantity| > max_position for the intent's agent and instrument.",
      "type": "number", "minimum": 0
    },
    "max_order_quantity": {
      "description": "Rule max_order_quantity: reject when quantity > max_order_quantity.",
      "type": "number", "exclusiveMinimum": 0
    },
    "max_order_notional": {
      "description": "Rule max_order_notional: reject when quantity * price > max_order_notional; price = price_limit when set, else the last price seen in a signal or fill for the instrument.",
      "type": "number", "exclusiveMinimum": 0
    },
    "notional_without_price": {
      "description": "What max_order_notional does when no price is known: reject (fail closed) or allow.",
      "type": "string", "enum": ["reject", "allow"], "default": "reject"
    },
    "max_orders_per_second": {
      "description": "Rule max_orders_per_second: per agent, at most this many approved orders within any 1 s of the host clock.",
      "type": "integer", "minimum": 1, "maximum": 1000000
    },
    "allow_instruments": {
      "description": "Rule instrument_not_allowed: when set, the instrument must match one pattern. A pattern is an exact name, or a prefix followed by one trailing '*' matching every instrument that starts with the prefix ('*' alone matches all).",
      "type": "array", "minItems": 1, "uniqueItems": true,
      "items": {"type": "string", "minLength": 1, "pattern": "^[^*]*[*]?$"}
    },
    "deny_instruments": {
      "description": "Rule instrument_denied: the instrument must match no pattern (same pattern syntax as allow_instruments).",
      "type": "array", "minItems": 1, "uniqueItems": true,
      "items": {"type": "string", "minLength": 1, "pattern": "^[^*]*[*]?$"}
    },
    "max_daily_loss": {
      "description": "Rule max_daily_loss: reject when the agent's realized PnL today, summed over instruments, is <= -max_daily_loss.",
      "type": "number", "exclusiveMinimum": 0
    },
    "allow_reducing_orders": {
      "description": "When true, an order that only reduces the absolute position (same sign, not past flat) is exempt from max_position and max_daily_loss.",
      "type": "boolean", "default": false
    },
    "kill_switch_file": {
      "description": "Rule kill_switch: while a file exists at this path every order is rejected. The host's POST /admin/kill-switch creates and removes it.",
      "type": "string", "minLength": 1
    },
    "kill_switch_check_ms": {
      "description": "While released, the file is checked with stat() at most once per this many milliseconds of a steady clock (0 = every order); while engaged, on every order.",
      "type": "integer", "minimum": 0, "maximum": 60000, "default": 100
    }
  }
})json";

} // namespace risk_limits
