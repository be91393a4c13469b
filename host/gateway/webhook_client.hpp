// A small blocking HTTP/1.1 client for webhooks: `tradehost send`, tests and tools. Signs a body
// for an hmac source, or puts the passphrase in it for a passphrase source.
#pragma once

#include "gateway/gateway_config.hpp"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace th::gateway {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ClientResponse {
  int status = 0;
  std::string body;
  HeaderList headers;
  std::string header(std::string_view name) const; // "" when absent (case-insensitive)
};

// X-Timestamp, X-Nonce (random) and X-Signature for body, signed with the source's first secret.
HeaderList sign_webhook(std::string_view secret, std::string_view body, int64_t unix_seconds);

// The body with the source's first passphrase set in its passphrase field (body must be a JSON
// object). Throws std::invalid_argument when it is not.
std::string with_passphrase(const SourceConfig &source, std::string_view body);

// Sends one request to an http:// URL and reads the answer. Throws std::runtime_error naming the
// URL on connection or protocol failure.
ClientResponse http_request(const std::string &method, const std::string &url, std::string_view body,
                            const HeaderList &headers = {},
                            std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));

// Signs (hmac) or adds the passphrase (passphrase), then POSTs body to url.
ClientResponse send_webhook(const SourceConfig &source, const std::string &url, std::string_view body,
                            const std::string &idempotency_key = "");

} // namespace th::gateway
