// The head of a chain: its last row and last checkpoint (for GET /audit/head and `audit head`).
#pragma once

#include "audit_chain/checkpoint.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace th::audit {

class Database;

struct Head {
  uint64_t chain_position = 0; // 0 for an empty chain
  std::string hash;            // genesis_hash for an empty chain
  std::optional<Checkpoint> last_checkpoint;
};

// Opens the database read-only. Throws SqliteError when it is missing or not an audit trail.
Head read_head(const std::string &db_path);
Head read_head(Database &db);

// {"chain_position":N,"hash":"sha256:..","last_checkpoint":{..}|null}
nlohmann::json to_json(const Head &);

} // namespace th::audit
