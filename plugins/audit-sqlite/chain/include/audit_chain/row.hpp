// One audit row and the exact bytes its hash covers.
//
// hash = "sha256:" + hex(SHA-256(M)) where M is the canonical JSON of the object
//   {chain_position, correlation_id, data, event_id, event_type, previous_hash, service, timestamp}
// i.e. (keys already in canonical order, `data` being the canonical text of the event object):
//   {"chain_position":N,"correlation_id":"..","data":{..},"event_id":"..","event_type":"..",
//    "previous_hash":"sha256:..","service":"..","timestamp":"2025-01-15T10:30:01.250Z"}
// The first row's previous_hash is genesis_hash. See docs/audit-format.md.
#pragma once

#include "audit_chain/sha256.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace th::audit {

inline constexpr std::string_view genesis_hash =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

// The fields a row's hash covers. `data` must already be canonical JSON (an object).
struct RowView {
  uint64_t chain_position = 0;
  std::string_view event_id;
  std::string_view correlation_id;
  std::string_view event_type;
  std::string_view timestamp; // RFC 3339, milliseconds
  std::string_view service;
  std::string_view data;
  std::string_view previous_hash;
};

// An owned row as stored, with its hash.
struct Row {
  uint64_t chain_position = 0;
  std::string event_id, correlation_id, event_type, timestamp, service, data, previous_hash, hash;

  RowView view() const {
    return {chain_position, event_id, correlation_id, event_type, timestamp, service, data, previous_hash};
  }
};

// Writes M (the hashed bytes) into out, replacing its content.
void row_message(const RowView &row, std::string &out);

// The stored form of a row (one JSON line of `tradehost audit export`): M with "hash" added.
void append_row_record(const RowView &row, std::string_view hash, std::string &out);

// Hashes rows, reusing its buffers. One per thread.
class RowHasher {
public:
  // Replaces out with "sha256:<hex>" of the row's message.
  void hash(const RowView &row, std::string &out);
  std::string hash(const RowView &row) {
    std::string out;
    hash(row, out);
    return out;
  }

private:
  Sha256 sha_;
  std::string message_;
};

} // namespace th::audit
