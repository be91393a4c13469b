#include "audit_chain/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace th::audit {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()), md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)) {
  if (!ctx_ || !md_) {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
    throw std::runtime_error("OpenSSL: SHA-256 is not available");
  }
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
  EVP_MD_free(md_);
}

Digest Sha256::digest(std::string_view bytes) {
  Digest d;
  unsigned int size = 0;
  if (EVP_DigestInit_ex2(ctx_, md_, nullptr) != 1 ||
      EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_, d.data(), &size) != 1 || size != d.size())
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  return d;
}

std::string to_hex(const uint8_t *bytes, size_t size) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = hex[bytes[i] >> 4];
    out[2 * i + 1] = hex[bytes[i] & 0xF];
  }
  return out;
}

bool from_hex(std::string_view hex, std::string &out) {
  if (hex.size() % 2)
    return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  out.clear();
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out += static_cast<char>(hi << 4 | lo);
  }
  return true;
}

void append_hash_string(const Digest &digest, std::string &out) {
  static constexpr char hex[] = "0123456789abcdef";
  size_t start = out.size();
  out.append("sha256:");
  out.resize(start + 7 + 64);
  char *p = out.data() + start + 7;
  for (uint8_t b : digest) {
    *p++ = hex[b >> 4];
    *p++ = hex[b & 0xF];
  }
}

} // namespace th::audit
