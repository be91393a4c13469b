// The gateway's cryptography on OpenSSL: webhook signatures, constant-time comparison, body
// digests and random identifiers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace th::gateway {

// Lower-case hex HMAC-SHA256 of "{timestamp}.{nonce}.{body}" with secret: the X-Signature value.
std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view nonce,
                              std::string_view body);

// Equal length and bytes, in time independent of where they differ (CRYPTO_memcmp).
bool constant_time_equal(std::string_view a, std::string_view b);

// SHA-256 of data.
std::array<uint8_t, 32> sha256(std::string_view data);

// n random bytes as 2n lower-case hex characters (a per-thread generator seeded from the OS).
std::string random_hex(size_t bytes);

} // namespace th::gateway
