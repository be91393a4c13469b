// The bus message id of an accepted webhook, tied to the request rather than to the attempt, so
// that a client's retry after an ambiguous 503 (the bus may have stored the first attempt) is
// de-duplicated by the bus (JetStream: Nats-Msg-Id within the stream's duplicate window):
//   "req-k-" + 32 hex of SHA-256(source, X-Idempotency-Key or derived key)   when there is a key;
//   "req-n-" + 32 hex of SHA-256(source, X-Timestamp, X-Nonce)                 for a signed request;
//   corr_id + ":signal"                                                       otherwise.
#pragma once

#include <string>
#include <string_view>

namespace th::gateway {

std::string request_message_id(std::string_view source, std::string_view idempotency_key,
                               std::string_view timestamp, std::string_view nonce, std::string_view corr_id);

} // namespace th::gateway
