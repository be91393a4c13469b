// Contract JSON written straight into a string, for the hot paths that turn every bus message
// into an audit record or a JetStream message body: no nlohmann::json tree; once `out` has grown,
// the only allocations are the timestamps' text (format_timestamp).
//
// The text is the same JSON *value* as to_json(event).dump() (json_codec.hpp): same members,
// same strings, numbers that parse to the same doubles (shortest round-trip form, non-finite as
// null). Member order and number spelling may differ; audit sinks canonicalize what they hash,
// so the stored rows are identical. An event carrying unmodelled fields (extra_json) is encoded
// through to_json(), which owns the merge rules.
#pragma once

#include "events/events.hpp"

#include <string>

namespace th {

// Replaces `out` with the JSON object for the payload (an AuditRecord payload: to_json().dump()).
void write_json(const Payload &payload, std::string &out);
void write_json(const OrderIntent &intent, std::string &out);

} // namespace th
