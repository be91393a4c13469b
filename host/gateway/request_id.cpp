#include "gateway/request_id.hpp"

#include "gateway/crypto.hpp"

namespace th::gateway {

std::string request_message_id(std::string_view source, std::string_view idempotency_key,
                               std::string_view timestamp, std::string_view nonce, std::string_view corr_id) {
  std::string input, id;
  if (!idempotency_key.empty()) {
    input.append("key\n").append(source).append("\n").append(idempotency_key);
    id = "req-k-";
  } else if (!nonce.empty()) {
    input.append("nonce\n").append(source).append("\n").append(timestamp).append("\n").append(nonce);
    id = "req-n-";
  } else {
    return std::string(corr_id) + ":signal";
  }
  return id + hex_prefix(sha256(input), 16);
}

} // namespace th::gateway
