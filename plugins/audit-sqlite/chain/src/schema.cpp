#include "audit_chain/schema.hpp"

#include "audit_chain/sqlite.hpp"

namespace th::audit {

void create_schema(Database &db) {
  db.exec(R"sql(
    CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT OR IGNORE INTO audit_meta (key, value) VALUES ('format', 'tradehost-audit-v1');
    CREATE TABLE IF NOT EXISTS events (
      chain_position INTEGER PRIMARY KEY,
      event_id       TEXT NOT NULL UNIQUE,
      correlation_id TEXT NOT NULL,
      event_type     TEXT NOT NULL,
      timestamp      TEXT NOT NULL,
      service        TEXT NOT NULL,
      data           TEXT NOT NULL,
      previous_hash  TEXT NOT NULL,
      hash           TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS checkpoints (
      chain_position INTEGER PRIMARY KEY,
      hash           TEXT NOT NULL,
      signature      TEXT NOT NULL,
      public_key     TEXT NOT NULL,
      signed_at      TEXT NOT NULL
    );
  )sql");
  require_schema(db);
}

void require_schema(Database &db) {
  Statement format(db, "SELECT value FROM audit_meta WHERE key = 'format'");
  if (!format.step() || format.text(0) != format_version)
    throw SqliteError("audit database " + db.path() + ": not a " + format_version + " audit trail");
}

} // namespace th::audit
