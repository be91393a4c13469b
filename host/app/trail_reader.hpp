// Read-only look-ups in an audit-sqlite trail while its sink writes it (WAL: readers never block
// the writer): does an event id exist, where is it, and the rows from a chain position on.
// Used at start-up to see how far each accepted signal got, and by the inbox retirer.
#pragma once

#include <audit_chain/sqlite.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace th::app {

class TrailReader {
public:
  explicit TrailReader(const std::string &db_path); // throws audit::SqliteError

  std::optional<int64_t> position_of(std::string_view event_id);
  bool has(std::string_view event_id) { return position_of(event_id).has_value(); }

  struct Row {
    std::string_view event_id, correlation_id, event_type, data;
  };
  // Every row at or after `position`, in chain order.
  void scan_from(int64_t position, const std::function<void(const Row &)> &visit);

  const std::string &path() const { return db_.path(); }

private:
  audit::Database db_;
  audit::Statement position_;
};

} // namespace th::app
