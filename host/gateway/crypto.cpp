#include "gateway/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <random>
#include <stdexcept>
#include <utility>

namespace th::gateway {
namespace {
constexpr char hex_digits[] = "0123456789abcdef";

void append_hex(std::string &out, const unsigned char *data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    out.push_back(hex_digits[data[i] >> 4]);
    out.push_back(hex_digits[data[i] & 0xf]);
  }
}
} // namespace

std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view nonce,
                              std::string_view body) {
  return WebhookSigner(secret).sign(timestamp, nonce, body);
}

WebhookSigner::WebhookSigner(std::string_view secret) {
  // The MAC algorithm is fetched once for the process.
  static EVP_MAC *hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!hmac)
    throw std::runtime_error("OpenSSL has no HMAC");
  keyed_ = EVP_MAC_CTX_new(hmac);
  if (!keyed_)
    throw std::bad_alloc();
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                         OSSL_PARAM_construct_end()};
  if (!EVP_MAC_init(keyed_, reinterpret_cast<const unsigned char *>(secret.data()), secret.size(), params)) {
    EVP_MAC_CTX_free(keyed_);
    throw std::runtime_error("HMAC-SHA256 key set-up failed");
  }
}

WebhookSigner::~WebhookSigner() {
  EVP_MAC_CTX_free(keyed_);
}

WebhookSigner::WebhookSigner(WebhookSigner &&other) noexcept : keyed_(std::exchange(other.keyed_, nullptr)) {}

WebhookSigner &WebhookSigner::operator=(WebhookSigner &&other) noexcept {
  std::swap(keyed_, other.keyed_);
  return *this;
}

std::array<uint8_t, 32> WebhookSigner::mac(std::string_view timestamp, std::string_view nonce,
                                           std::string_view body) const {
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(keyed_);
  if (!ctx)
    throw std::bad_alloc();
  auto update = [ctx](std::string_view part) {
    return EVP_MAC_update(ctx, reinterpret_cast<const unsigned char *>(part.data()), part.size());
  };
  std::array<uint8_t, 32> out{};
  size_t length = 0;
  bool ok = update(timestamp) && update(".") && update(nonce) && update(".") && update(body) &&
            EVP_MAC_final(ctx, out.data(), &length, out.size()) && length == out.size();
  EVP_MAC_CTX_free(ctx);
  if (!ok)
    throw std::runtime_error("HMAC-SHA256 failed");
  return out;
}

std::string WebhookSigner::sign(std::string_view timestamp, std::string_view nonce,
                                std::string_view body) const {
  auto digest = mac(timestamp, nonce, body);
  std::string out;
  out.reserve(digest.size() * 2);
  append_hex(out, digest.data(), digest.size());
  return out;
}

bool WebhookSigner::verify(std::string_view timestamp, std::string_view nonce, std::string_view body,
                           std::string_view presented) const {
  // Decoded with OpenSSL (either case); a malformed value says nothing about the secret.
  std::array<uint8_t, 32> given{};
  char text[2 * given.size() + 1] = {};
  size_t length = 0;
  if (presented.size() != given.size() * 2)
    return false;
  presented.copy(text, presented.size());
  if (!OPENSSL_hexstr2buf_ex(given.data(), given.size(), &length, text, '\0') || length != given.size())
    return false;
  auto expected = mac(timestamp, nonce, body);
  return CRYPTO_memcmp(expected.data(), given.data(), given.size()) == 0;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Digests first: a length mismatch returning early would tell how long the secret is.
  auto da = sha256(a), db = sha256(b);
  return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

std::array<uint8_t, 32> sha256(std::string_view data) {
  std::array<uint8_t, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char *>(data.data()), data.size(), digest.data());
  return digest;
}

std::string hex_prefix(const std::array<uint8_t, 32> &digest, size_t bytes) {
  std::string out;
  append_hex(out, digest.data(), std::min(bytes, digest.size()));
  return out;
}

std::string random_hex(size_t bytes) {
  thread_local std::mt19937_64 generator{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }()};
  std::string out;
  out.reserve(bytes * 2);
  for (size_t i = 0; i < bytes; i += 8) {
    uint64_t word = generator();
    unsigned char chunk[8];
    for (int b = 0; b < 8; ++b)
      chunk[b] = static_cast<unsigned char>(word >> (8 * b));
    append_hex(out, chunk, std::min<size_t>(8, bytes - i));
  }
  return out;
}

} // namespace th::gateway
