#include "audit_chain/head.hpp"

#include "audit_chain/row.hpp"
#include "audit_chain/schema.hpp"
#include "audit_chain/sqlite.hpp"

namespace th::audit {

Head read_head(const std::string &db_path) {
  Database db(db_path, Database::Mode::read_only);
  return read_head(db);
}

Head read_head(Database &db) {
  require_schema(db);
  Head head;
  head.hash = genesis_hash;
  db.exec("BEGIN"); // one snapshot for both tables
  try {
    Statement last(db, "SELECT chain_position, hash FROM events ORDER BY chain_position DESC LIMIT 1");
    if (last.step()) {
      head.chain_position = static_cast<uint64_t>(last.int64(0));
      head.hash = last.text(1);
    }
    Statement checkpoint(db, "SELECT chain_position, hash, signature, public_key, signed_at FROM checkpoints "
                             "ORDER BY chain_position DESC LIMIT 1");
    if (checkpoint.step())
      head.last_checkpoint = Checkpoint{static_cast<uint64_t>(checkpoint.int64(0)),
                                        std::string(checkpoint.text(1)), std::string(checkpoint.text(2)),
                                        std::string(checkpoint.text(3)), std::string(checkpoint.text(4))};
  } catch (...) {
    db.exec("COMMIT");
    throw;
  }
  db.exec("COMMIT");
  return head;
}

nlohmann::json to_json(const Head &h) {
  return {{"chain_position", h.chain_position},
          {"hash", h.hash},
          {"last_checkpoint", h.last_checkpoint ? to_json(*h.last_checkpoint) : nlohmann::json(nullptr)}};
}

} // namespace th::audit
