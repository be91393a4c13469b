// Deterministic sample audit events for the audit tests, the writer driver and bench_audit.
// Their data exercises the canonical form: fractions, large and tiny numbers, an integer past
// 2^53, escapes, non-ASCII text and unsorted keys.
#pragma once

#include <tradehost/plugin.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace th::audit_test {

struct SampleEvent {
  std::string event_id, correlation_id, event_type, service, data_json;
  int64_t timestamp_ns = 0;

  th_audit_event view() const {
    th_audit_event e{};
    e.struct_size = sizeof e;
    e.event_id = {event_id.data(), event_id.size()};
    e.correlation_id = {correlation_id.data(), correlation_id.size()};
    e.event_type = {event_type.data(), event_type.size()};
    e.timestamp_ns = timestamp_ns;
    e.service = {service.data(), service.size()};
    e.data_json = {data_json.data(), data_json.size()};
    return e;
  }
};

inline SampleEvent sample_event(std::string_view prefix, uint64_t i) {
  static const char *types[] = {"webhook_received", "signal_published", "decision_made",
                                "order_sent",       "fill_received",    "position_updated"};
  static const char *services[] = {"gateway", "agent:momentum", "risk", "exec-sim", "portfolio", "portfolio"};
  SampleEvent e;
  e.event_id = std::string(prefix) + "-" + std::to_string(i);
  e.correlation_id = "tv_" + std::to_string(100000000 + i / 6);
  e.event_type = types[i % 6];
  e.service = services[i % 6];
  e.timestamp_ns = 1736937000000000000 + static_cast<int64_t>(i) * 1250000;
  std::string n = std::to_string(i);
  // Unsorted keys and whitespace on purpose: the sink stores the canonical form.
  e.data_json = R"({ "side": ")" + std::string(i % 2 ? "sell" : "buy") +
                R"(", "instrument": "AAPL", "fill_id": "F-)" + n + R"(", "quantity_filled": )" +
                std::to_string(i % 100) + ".5" + R"(, "avg_fill_price": )" + std::to_string(187 + i % 13) +
                ".25" + R"(, "fees": {"commission": 0.35, "exchange_fee": 3e-4},)" +
                R"( "strength": 0.1, "sequence": )" + n + "}";
  if (i % 7 == 3)
    e.data_json =
        R"({"big": 1e21, "tiny": 1e-7, "int_past_2_53": 9007199254740993, "past_2_64": 123456789012345678901, "neg_zero": -0.0,)"
        R"( "text": "caf\u00e9 \"quoted\" tab\t line\n \u0001 \u2028 \ud83d\ude00", "nested": [1, 2.50, {"b": null, "a": true}],)"
        R"( "\uff61": "halfwidth", "\ud83d\ude00": "emoji", "n": )" +
        n + "}";
  return e;
}

} // namespace th::audit_test
