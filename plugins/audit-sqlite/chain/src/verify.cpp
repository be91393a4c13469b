#include "audit_chain/verify.hpp"

#include "audit_chain/checkpoint.hpp"
#include "audit_chain/row.hpp"
#include "audit_chain/schema.hpp"
#include "audit_chain/sqlite.hpp"

#include <algorithm>
#include <set>
#include <vector>

namespace th::audit {
namespace {

constexpr const char *select_rows = "SELECT chain_position, event_id, correlation_id, event_type, timestamp, "
                                    "service, data, previous_hash, hash "
                                    "FROM events";

struct StoredRow {
  int64_t position;
  RowView view;
  std::string_view hash;
};

StoredRow read_row(const Statement &s) {
  StoredRow r;
  r.position = s.int64(0);
  r.view = {static_cast<uint64_t>(r.position),
            s.text(1),
            s.text(2),
            s.text(3),
            s.text(4),
            s.text(5),
            s.text(6),
            s.text(7)};
  r.hash = s.text(8);
  return r;
}

struct SourcedCheckpoint {
  Checkpoint checkpoint;
  std::string source; // "checkpoints table" or the sidecar path
  bool in_table = false;
};

// Where a row whose link is broken was originally written: follow previous_hash back to a row
// that still verifies at its own position, counting the steps. Only runs on a failure.
class OriginFinder {
public:
  explicit OriginFinder(Database &db)
      : by_hash_(db, (std::string(select_rows) + " WHERE hash = ?1").c_str()) {}

  std::optional<uint64_t> original_position(const StoredRow &row) {
    std::string previous(row.view.previous_hash);
    uint64_t steps = 0;
    std::optional<uint64_t> anchor; // position of the first row known to be where it was written
    for (; steps < 64; ++steps) {
      if (previous == genesis_hash) {
        anchor = 0;
        break;
      }
      by_hash_.reset();
      by_hash_.bind(1, previous);
      if (!by_hash_.step())
        return std::nullopt;
      StoredRow back = read_row(by_hash_);
      if (hasher_.hash(back.view) == back.hash) {
        anchor = static_cast<uint64_t>(back.position);
        break;
      }
      previous = back.view.previous_hash;
    }
    by_hash_.reset();
    if (!anchor)
      return std::nullopt;
    RowView moved = row.view;
    moved.chain_position = *anchor + steps + 1;
    if (hasher_.hash(moved) != row.hash)
      return std::nullopt;
    return moved.chain_position;
  }

private:
  Statement by_hash_;
  RowHasher hasher_;
};

std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

} // namespace

std::string_view problem_name(Problem p) {
  switch (p) {
  case Problem::hash_mismatch:
    return "hash_mismatch";
  case Problem::broken_link:
    return "broken_link";
  case Problem::gap:
    return "gap";
  case Problem::reordering:
    return "reordering";
  case Problem::insertion:
    return "insertion";
  case Problem::truncation:
    return "truncation";
  case Problem::checkpoint_mismatch:
    return "checkpoint_mismatch";
  case Problem::bad_signature:
    return "bad_signature";
  case Problem::malformed:
    return "malformed";
  case Problem::missing_checkpoint:
    return "missing_checkpoint";
  }
  return "unknown";
}

VerifyReport verify(const std::string &db_path, const VerifyOptions &options) {
  VerifyReport report;
  report.head_hash = genesis_hash;

  std::optional<VerifyKey> key;
  std::vector<SourcedCheckpoint> checkpoints;
  try {
    if (options.public_key_path)
      key = VerifyKey::load(*options.public_key_path);
    // The sidecar is read before the database snapshot: the writer appends to it only after the
    // checkpoint's transaction committed, so every line read here is visible in the snapshot.
    if (options.checkpoint_file)
      for (auto &c : read_checkpoint_file(*options.checkpoint_file))
        checkpoints.push_back({std::move(c), *options.checkpoint_file, false});
  } catch (const std::exception &e) {
    throw Unreadable(e.what());
  }
  report.signatures_checked = key.has_value();

  std::optional<Database> db_holder;
  try {
    db_holder.emplace(db_path, Database::Mode::read_only);
    require_schema(*db_holder);
    db_holder->exec("BEGIN");
  } catch (const SqliteError &e) {
    throw Unreadable(e.what());
  }
  Database &db = *db_holder;

  std::optional<Finding> finding;
  auto found = [&](uint64_t position, Problem problem, std::string detail) {
    if (!finding || position < finding->chain_position)
      finding = Finding{position, problem, std::move(detail)};
  };

  try {
    report.sidecar_checkpoints = checkpoints.size();
    std::set<uint64_t> table_positions;
    Statement table(db, "SELECT chain_position, hash, signature, public_key, signed_at FROM checkpoints");
    while (table.step()) {
      checkpoints.push_back(
          {Checkpoint{static_cast<uint64_t>(table.int64(0)), std::string(table.text(1)),
                      std::string(table.text(2)), std::string(table.text(3)), std::string(table.text(4))},
           "checkpoints table", true});
      table_positions.insert(checkpoints.back().checkpoint.chain_position);
    }
    report.table_checkpoints = checkpoints.size() - report.sidecar_checkpoints;
    std::stable_sort(checkpoints.begin(), checkpoints.end(), [](auto &a, auto &b) {
      return a.checkpoint.chain_position < b.checkpoint.chain_position;
    });
    report.checkpoints = checkpoints.size();

    // A checkpoint counts only if its signature verifies (when a trusted key is given).
    auto signature_ok = [&](const SourcedCheckpoint &c) {
      if (!key || key->verifies(c.checkpoint))
        return true;
      std::string detail = "checkpoint at position " + std::to_string(c.checkpoint.chain_position) +
                           " in the " + c.source +
                           " has a signature that does not verify with the trusted public key";
      if (c.checkpoint.public_key != key->public_key_hex())
        detail += " (it names public key " + c.checkpoint.public_key + ")";
      found(c.checkpoint.chain_position, Problem::bad_signature, detail);
      return false;
    };

    Statement rows(db, (std::string(select_rows) + " ORDER BY chain_position").c_str());
    RowHasher hasher;
    std::string computed, previous(genesis_hash);
    uint64_t expected = 1;
    size_t next_checkpoint = 0;
    while (!finding && rows.step()) {
      StoredRow row = read_row(rows);
      ++report.rows;
      if (row.position < 1) {
        found(0, Problem::malformed,
              "row with chain_position " + std::to_string(row.position) + " (must be >= 1)");
        break;
      }
      auto position = static_cast<uint64_t>(row.position);
      if (position != expected) {
        found(expected, Problem::gap,
              "position " + std::to_string(expected) + " is missing; the next row is at " +
                  std::to_string(position));
        break;
      }
      if (row.view.previous_hash != previous) {
        OriginFinder origin(db);
        auto written_at = origin.original_position(row);
        if (written_at && *written_at > position)
          found(position, Problem::reordering,
                "the row at position " + std::to_string(position) + " (event_id " + quote(row.view.event_id) +
                    ") was written at position " + std::to_string(*written_at));
        else if (written_at && *written_at < position) // rows in written_at..position-1 are intruders
          found(*written_at, Problem::insertion,
                std::to_string(position - *written_at) + " row(s) inserted at position " +
                    std::to_string(*written_at) + ": the row written there (event_id " +
                    quote(row.view.event_id) + ") is now at position " + std::to_string(position));
        else
          found(position, Problem::broken_link,
                "previous_hash " + std::string(row.view.previous_hash) + " is not the hash of position " +
                    std::to_string(position - 1) + " (" + previous + ")");
        break;
      }
      hasher.hash(row.view, computed);
      if (computed != row.hash) {
        found(position, Problem::hash_mismatch,
              "stored hash " + std::string(row.hash) + " but the row's fields hash to " + computed);
        break;
      }
      previous.assign(row.hash);
      report.head_position = position;
      ++expected;

      for (; next_checkpoint < checkpoints.size() &&
             checkpoints[next_checkpoint].checkpoint.chain_position <= position;
           ++next_checkpoint) {
        const SourcedCheckpoint &c = checkpoints[next_checkpoint];
        if (c.checkpoint.chain_position < 1) {
          found(0, Problem::malformed, "checkpoint with chain_position 0 in the " + c.source);
          continue;
        }
        if (!signature_ok(c))
          continue;
        if (c.checkpoint.hash != previous)
          found(position, Problem::checkpoint_mismatch,
                "checkpoint at position " + std::to_string(position) + " in the " + c.source +
                    " signed hash " + c.checkpoint.hash + " but the row there has hash " + previous +
                    " (the chain was rewritten or rolled back at or before this position)");
        // The writer appends a sidecar line only after its checkpoint row committed, so the
        // table holds every checkpoint the sidecar has (and may hold more after a crash).
        else if (!c.in_table && !table_positions.count(position))
          found(position, Problem::missing_checkpoint,
                "checkpoint at position " + std::to_string(position) + " in the " + c.source +
                    " is not in the database's checkpoints table (checkpoint rows were deleted)");
      }
    }

    if (!finding) {
      report.head_hash = previous;
      // Checkpoints past the last row: the chain was cut back behind a signed state.
      for (; next_checkpoint < checkpoints.size(); ++next_checkpoint) {
        const SourcedCheckpoint &c = checkpoints[next_checkpoint];
        if (!signature_ok(c))
          continue;
        found(report.head_position + 1, Problem::truncation,
              "checkpoint at position " + std::to_string(c.checkpoint.chain_position) + " in the " +
                  c.source + " but the chain ends at position " + std::to_string(report.head_position) +
                  " (rows " + std::to_string(report.head_position + 1) + ".." +
                  std::to_string(c.checkpoint.chain_position) + " are missing)");
      }
    } else {
      Statement last(db, "SELECT chain_position, hash FROM events ORDER BY chain_position DESC LIMIT 1");
      if (last.step()) {
        report.head_position = static_cast<uint64_t>(last.int64(0));
        report.head_hash = last.text(1);
      }
    }
  } catch (const SqliteError &e) {
    sqlite3_exec(db.handle(), "COMMIT", nullptr, nullptr, nullptr);
    throw Unreadable(e.what());
  }
  sqlite3_exec(db.handle(), "COMMIT", nullptr, nullptr, nullptr);
  report.first_problem = std::move(finding);
  return report;
}

} // namespace th::audit
