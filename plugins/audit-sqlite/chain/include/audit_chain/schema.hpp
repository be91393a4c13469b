// The audit database's tables (see docs/audit-format.md, "Storage").
#pragma once

namespace th::audit {

class Database;

// Creates the tables if absent and checks the format version; throws on a foreign database.
void create_schema(Database &db);
// Throws SqliteError when the database does not hold an audit trail.
void require_schema(Database &db);

inline constexpr const char *format_version = "tradehost-audit-v1";

} // namespace th::audit
