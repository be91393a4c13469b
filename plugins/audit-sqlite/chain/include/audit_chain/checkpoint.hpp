// Signed checkpoints: an Ed25519 signature over the exact ASCII bytes
//   "tradehost-audit-checkpoint:v1:{chain_position}:{hash}"
// (chain_position in decimal, hash as stored, "sha256:<hex>"). Stored in the database's
// `checkpoints` table and appended as one JSON line to a sidecar file.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;

namespace th::audit {

struct Checkpoint {
  uint64_t chain_position = 0;
  std::string hash;       // the row hash at chain_position
  std::string signature;  // 128 lowercase hex digits (64-byte Ed25519 signature)
  std::string public_key; // 64 lowercase hex digits (raw 32-byte Ed25519 public key), informative
  std::string signed_at;  // RFC 3339 ms wall-clock time of signing, informative (not signed)
};

std::string checkpoint_message(uint64_t chain_position, std::string_view hash);

// {"chain_position":..,"hash":..,"public_key":..,"signature":..,"signed_at":..}
nlohmann::json to_json(const Checkpoint &);
// Throws std::invalid_argument naming the missing or mistyped field.
Checkpoint checkpoint_from_json(const nlohmann::json &);

// Reads a sidecar file (one JSON checkpoint per line; blank lines skipped). Throws
// std::runtime_error naming the file and line on an unreadable file or malformed line.
std::vector<Checkpoint> read_checkpoint_file(const std::string &path);

// Appends one line and, when sync is true, fdatasync()s the file. Throws std::runtime_error.
void append_checkpoint_line(const std::string &path, const Checkpoint &, bool sync);

struct PkeyDeleter {
  void operator()(evp_pkey_st *) const;
};
using Pkey = std::unique_ptr<evp_pkey_st, PkeyDeleter>;

// An Ed25519 private key loaded from a PEM (PKCS#8) file.
class SigningKey {
public:
  static SigningKey load(const std::string &pem_path); // throws std::runtime_error
  Checkpoint sign(uint64_t chain_position, std::string_view hash, std::string signed_at) const;
  const std::string &public_key_hex() const { return public_key_hex_; }

private:
  Pkey key_;
  std::string public_key_hex_;
};

// An Ed25519 public key loaded from a PEM (SubjectPublicKeyInfo) file.
class VerifyKey {
public:
  static VerifyKey load(const std::string &pem_path); // throws std::runtime_error
  bool verifies(const Checkpoint &) const;
  const std::string &public_key_hex() const { return public_key_hex_; }

private:
  Pkey key_;
  std::string public_key_hex_;
};

// Writes PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub (PEM). Refuses to overwrite either.
// Returns the public key hex. Throws std::runtime_error naming the file.
std::string generate_key_pair(const std::string &prefix);

} // namespace th::audit
