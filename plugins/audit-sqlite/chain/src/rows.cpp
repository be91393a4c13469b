#include "audit_chain/rows.hpp"

#include <algorithm>

namespace th::audit {

uint64_t read_rows(Database &db, const RowFilter &filter, const std::function<void(const Row &)> &visit) {
  // Placeholders only: every value the user gave is bound, never spliced into the SQL.
  std::string sql = "SELECT chain_position, event_id, correlation_id, event_type, timestamp, service, data, "
                    "previous_hash, hash FROM events WHERE chain_position BETWEEN ?1 AND ?2";
  int next = 3;
  std::vector<std::pair<int, const std::string *>> texts;
  auto text = [&](const std::string &clause, const std::string &value) {
    sql += " AND " + clause + " = ?" + std::to_string(next);
    texts.emplace_back(next++, &value);
  };
  if (filter.correlation_id)
    text("correlation_id", *filter.correlation_id);
  if (filter.agent_id)
    text("json_extract(data, '$.agent_id')", *filter.agent_id);
  if (filter.instrument)
    text("json_extract(data, '$.instrument')", *filter.instrument);
  if (!filter.event_types.empty()) {
    sql += " AND event_type IN (";
    for (size_t i = 0; i < filter.event_types.size(); ++i) {
      sql += (i ? ", ?" : "?") + std::to_string(next);
      texts.emplace_back(next++, &filter.event_types[i]);
    }
    sql += ")";
  }
  sql += filter.last ? " ORDER BY chain_position DESC LIMIT ?" + std::to_string(next)
                     : " ORDER BY chain_position";
  Statement rows(db, sql.c_str());
  rows.bind(1, static_cast<int64_t>(filter.from));
  rows.bind(2, static_cast<int64_t>(std::min<uint64_t>(filter.to, INT64_MAX)));
  for (auto &[index, value] : texts)
    rows.bind(index, *value);
  if (filter.last)
    rows.bind(next, static_cast<int64_t>(std::min<uint64_t>(filter.last, INT64_MAX)));

  auto read = [&rows] {
    Row row;
    row.chain_position = static_cast<uint64_t>(rows.int64(0));
    row.event_id = rows.text(1);
    row.correlation_id = rows.text(2);
    row.event_type = rows.text(3);
    row.timestamp = rows.text(4);
    row.service = rows.text(5);
    row.data = rows.text(6);
    row.previous_hash = rows.text(7);
    row.hash = rows.text(8);
    return row;
  };
  uint64_t visited = 0;
  if (filter.last) { // newest first from SQLite, bounded by N: handed over oldest first
    std::vector<Row> newest;
    while (rows.step())
      newest.push_back(read());
    for (auto it = newest.rbegin(); it != newest.rend(); ++it, ++visited)
      visit(*it);
    return visited;
  }
  while (rows.step()) {
    visit(read());
    ++visited;
  }
  return visited;
}

} // namespace th::audit
