// Contract JSON (docs/contract.md) for every payload. Encoding never fails; decoding reports
// the first problem with the field name. Unknown fields survive a round trip via extra_json.
#pragma once

#include "events/events.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace th {

// RFC 3339 UTC with milliseconds, e.g. "2025-01-15T10:30:01.250Z".
std::string format_timestamp(TimeNs ns);
// Accepts RFC 3339 with any fraction and a Z or +hh:mm offset. nullopt when malformed.
std::optional<TimeNs> parse_timestamp(std::string_view text);

nlohmann::json to_json(const Signal &);
nlohmann::json to_json(const OrderIntent &);
nlohmann::json to_json(const Rejection &);
nlohmann::json to_json(const Fill &);
nlohmann::json to_json(const Reconcile &);
nlohmann::json to_json(const AuditRecord &);
nlohmann::json to_json(const Payload &);

// Decoders throw DecodeError naming the field. Fields the struct does not model are kept in
// extra_json (as a JSON object text).
struct DecodeError : std::runtime_error {
  std::string field;
  DecodeError(std::string name, const std::string &message)
      : std::runtime_error(name + ": " + message), field(std::move(name)) {}
};
Signal signal_from_json(const nlohmann::json &);
OrderIntent order_intent_from_json(const nlohmann::json &);
Rejection rejection_from_json(const nlohmann::json &);
Fill fill_from_json(const nlohmann::json &);
Reconcile reconcile_from_json(const nlohmann::json &);
AuditRecord audit_record_from_json(const nlohmann::json &);
Payload payload_from_json(Subject, const nlohmann::json &);

// Enum <-> contract strings ("buy", "market", "IOC", "complete", ...). Parsers return 0 when unknown.
std::string_view signal_action_name(int32_t);
int32_t signal_action_from_name(std::string_view);
std::string_view side_name(int32_t);
int32_t side_from_name(std::string_view);
std::string_view order_type_name(int32_t);
int32_t order_type_from_name(std::string_view);
std::string_view time_in_force_name(int32_t);
int32_t time_in_force_from_name(std::string_view);
std::string_view fill_status_name(int32_t);
int32_t fill_status_from_name(std::string_view);

} // namespace th
