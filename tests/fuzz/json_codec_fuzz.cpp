// Fuzz: every JSON event decoder (host/events/json_codec) on any JSON text, and RFC 3339
// timestamps. A decoder may refuse with DecodeError only; what it accepts must encode and
// decode back to the same JSON.
#include "events/json_codec.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace th;
  std::string_view text(reinterpret_cast<const char *>(data), size);
  if (auto ns = parse_timestamp(text)) // a parsed time prints and parses back
    if (!parse_timestamp(format_timestamp(*ns)))
      std::abort();
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded())
    return 0;
  for (Subject subject :
       {Subject::signals_normalized, Subject::decisions_order_intent, Subject::decisions_rejected,
        Subject::executions_fill, Subject::executions_reconcile, Subject::audit_event}) {
    Payload decoded;
    try {
      decoded = payload_from_json(subject, value);
    } catch (const DecodeError &) {
      continue;
    }
    nlohmann::json encoded = to_json(decoded);
    if (to_json(payload_from_json(subject, encoded)) != encoded)
      std::abort();
  }
  return 0;
}
