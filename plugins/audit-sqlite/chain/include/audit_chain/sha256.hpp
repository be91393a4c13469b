// SHA-256 through OpenSSL's EVP interface, with one reusable context so that hashing many small
// messages costs no allocation. Not thread-safe: one Sha256 per thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

struct evp_md_ctx_st;
struct evp_md_st;

namespace th::audit {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;

  Digest digest(std::string_view bytes);

private:
  evp_md_ctx_st *ctx_;
  evp_md_st *md_;
};

// Lowercase hex of bytes.
std::string to_hex(const uint8_t *bytes, size_t size);
// Decodes lowercase or uppercase hex; returns false on odd length or a non-hex character.
bool from_hex(std::string_view hex, std::string &out);

// "sha256:" followed by the 64 lowercase hex digits of the digest.
void append_hash_string(const Digest &digest, std::string &out);

} // namespace th::audit
