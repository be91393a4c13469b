#include "gateway/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <random>
#include <stdexcept>

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
  // The MAC algorithm is fetched once; each call gets its own context (thread-safe).
  static EVP_MAC *hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!hmac)
    throw std::runtime_error("OpenSSL has no HMAC");
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac);
  if (!ctx)
    throw std::bad_alloc();
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                         OSSL_PARAM_construct_end()};
  auto update = [ctx](std::string_view part) {
    return EVP_MAC_update(ctx, reinterpret_cast<const unsigned char *>(part.data()), part.size());
  };
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t length = 0;
  bool ok =
      EVP_MAC_init(ctx, reinterpret_cast<const unsigned char *>(secret.data()), secret.size(), params) &&
      update(timestamp) && update(".") && update(nonce) && update(".") && update(body) &&
      EVP_MAC_final(ctx, mac, &length, sizeof mac);
  EVP_MAC_CTX_free(ctx);
  if (!ok)
    throw std::runtime_error("HMAC-SHA256 failed");
  std::string out;
  out.reserve(length * 2);
  append_hex(out, mac, length);
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::array<uint8_t, 32> sha256(std::string_view data) {
  std::array<uint8_t, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char *>(data.data()), data.size(), digest.data());
  return digest;
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
