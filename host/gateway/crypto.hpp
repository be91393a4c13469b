// The gateway's cryptography on OpenSSL: webhook signatures, constant-time comparison, body
// digests and random identifiers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

struct evp_mac_ctx_st; // OpenSSL's EVP_MAC_CTX

namespace th::gateway {

// Lower-case hex HMAC-SHA256 of "{timestamp}.{nonce}.{body}" with secret: the X-Signature value.
std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view nonce,
                              std::string_view body);

// One secret's HMAC-SHA256 key, scheduled once: each signature then starts from a copy of the
// keyed state instead of hashing the key again. Usable from several threads at once.
class WebhookSigner {
public:
  explicit WebhookSigner(std::string_view secret);
  ~WebhookSigner();
  WebhookSigner(WebhookSigner &&other) noexcept;
  WebhookSigner &operator=(WebhookSigner &&other) noexcept;
  WebhookSigner(const WebhookSigner &) = delete;
  WebhookSigner &operator=(const WebhookSigner &) = delete;

  // The X-Signature value (lower-case hex).
  std::string sign(std::string_view timestamp, std::string_view nonce, std::string_view body) const;
  // Whether presented (hex, either case) is the signature, compared in constant time.
  bool verify(std::string_view timestamp, std::string_view nonce, std::string_view body,
              std::string_view presented) const;

private:
  std::array<uint8_t, 32> mac(std::string_view timestamp, std::string_view nonce,
                              std::string_view body) const;
  ::evp_mac_ctx_st *keyed_ = nullptr; // owned
};

// Equal length and bytes, in time independent of where they differ and of whether the lengths
// differ: the SHA-256 digests of both are compared with CRYPTO_memcmp.
bool constant_time_equal(std::string_view a, std::string_view b);

// SHA-256 of data.
std::array<uint8_t, 32> sha256(std::string_view data);

// The first `bytes` bytes of a digest as lower-case hex.
std::string hex_prefix(const std::array<uint8_t, 32> &digest, size_t bytes = 32);

// n random bytes as 2n lower-case hex characters (a per-thread generator seeded from the OS).
std::string random_hex(size_t bytes);

} // namespace th::gateway
