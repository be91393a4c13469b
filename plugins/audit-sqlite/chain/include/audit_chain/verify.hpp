// Verification of a stored chain: every row (link, position, hash) and every checkpoint
// (signature, position within the chain, hash equal to the row it names).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace th::audit {

enum class Problem {
  hash_mismatch,       // the stored hash is not the hash of the row's fields
  broken_link,         // previous_hash is not the hash of the row before
  gap,                 // a position is missing (rows are expected at 1, 2, 3, ...)
  reordering,          // the row was written at a later position (rows moved or swapped)
  insertion,           // the row was written at an earlier position: rows were inserted before it
  truncation,          // a checkpoint names a position past the last row (rows removed)
  checkpoint_mismatch, // the row at a checkpoint's position has another hash (rewritten/rolled back)
  bad_signature,       // a checkpoint's signature does not verify with the trusted public key
  malformed,           // a row field is missing or not of the stored form
  missing_checkpoint,  // the sidecar has a checkpoint the checkpoints table lacks (rows deleted)
};

std::string_view problem_name(Problem); // "hash_mismatch", "broken_link", ...

struct Finding {
  uint64_t chain_position = 0; // the first position that is wrong
  Problem problem = Problem::hash_mismatch;
  std::string detail; // one sentence for people
};

struct VerifyOptions {
  std::optional<std::string> public_key_path; // PEM; without it signatures are not checked
  std::optional<std::string> checkpoint_file; // sidecar JSON lines, checked besides the table
};

struct VerifyReport {
  uint64_t rows = 0;                // rows read
  uint64_t checkpoints = 0;         // checkpoints checked (table + sidecar)
  uint64_t table_checkpoints = 0;   // of which in the database's checkpoints table
  uint64_t sidecar_checkpoints = 0; // of which in the sidecar file
  uint64_t head_position = 0;       // last row's position (0 when empty)
  std::string head_hash;            // last row's stored hash (genesis when empty)
  bool signatures_checked = false;
  std::optional<Finding> first_problem; // the lowest-position finding; rows win ties
  bool ok() const { return !first_problem; }
};

// The database (or key/sidecar file) cannot be read; distinct from a tampered chain.
struct Unreadable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads the whole chain once, in position order. Throws Unreadable.
VerifyReport verify(const std::string &db_path, const VerifyOptions &options = {});

} // namespace th::audit
