#include "app/trail_reader.hpp"

namespace th::app {

TrailReader::TrailReader(const std::string &db_path)
    : db_(db_path, audit::Database::Mode::read_only),
      position_(db_, "SELECT chain_position FROM events WHERE event_id = ?1") {}

std::optional<int64_t> TrailReader::position_of(std::string_view event_id) {
  position_.reset();
  position_.bind(1, event_id);
  std::optional<int64_t> found;
  if (position_.step())
    found = position_.int64(0);
  position_.reset(); // ends the read transaction, so the writer's WAL checkpoints can reset
  return found;
}

void TrailReader::scan_from(int64_t position, const std::function<void(const Row &)> &visit) {
  audit::Statement scan(db_, "SELECT event_id, correlation_id, event_type, data FROM events "
                             "WHERE chain_position >= ?1 ORDER BY chain_position");
  scan.bind(1, position);
  while (scan.step())
    visit({scan.text(0), scan.text(1), scan.text(2), scan.text(3)});
}

} // namespace th::app
