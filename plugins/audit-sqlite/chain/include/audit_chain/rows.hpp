// Reading the rows of a trail, filtered: by chain position, correlation id, event type, and the
// `agent_id` / `instrument` fields of a row's data; or only the last N matching. Used by
// `tradehost audit export`, `trace` and `tail`.
#pragma once

#include "audit_chain/row.hpp"
#include "audit_chain/sqlite.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace th::audit {

struct RowFilter {
  uint64_t from = 1; // chain positions, inclusive
  uint64_t to = INT64_MAX;
  std::optional<std::string> correlation_id;
  std::vector<std::string> event_types;  // any of them; empty: every type
  std::optional<std::string> agent_id;   // data.agent_id equals it
  std::optional<std::string> instrument; // data.instrument equals it
  uint64_t last = 0;                     // only the last N matching rows (still in chain order); 0: all
};

// Visits the matching rows in chain order; returns the number visited. Throws SqliteError.
uint64_t read_rows(Database &db, const RowFilter &filter, const std::function<void(const Row &)> &visit);

} // namespace th::audit
