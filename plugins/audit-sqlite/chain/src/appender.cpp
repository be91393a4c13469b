#include "audit_chain/appender.hpp"

#include "audit_chain/schema.hpp"
#include "audit_chain/timestamp.hpp"

#include <chrono>

namespace th::audit {
namespace {

Database &prepare(Database &db, const AppenderOptions &options) {
  configure_for_append(db, options.synchronous);
  create_schema(db);
  return db;
}

int64_t wall_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

void configure_for_append(Database &db, Synchronous synchronous) {
  // Larger pages and cache: rows are ~400 bytes and the event_id index takes random inserts.
  db.exec("PRAGMA page_size = 16384"); // effective only for a new database (before WAL)
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA cache_size = -65536"); // KiB
  switch (synchronous) {
  case Synchronous::off:
    db.exec("PRAGMA synchronous = OFF");
    break;
  case Synchronous::normal:
    db.exec("PRAGMA synchronous = NORMAL");
    break;
  case Synchronous::full:
    db.exec("PRAGMA synchronous = FULL");
    break;
  }
}

Appender::Appender(const std::string &db_path, AppenderOptions options)
    : db_(db_path, Database::Mode::read_write_create),
      insert_(prepare(db_, options), "INSERT INTO events (chain_position, event_id, correlation_id, "
                                     "event_type, timestamp, service, data, "
                                     "previous_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON "
                                     "CONFLICT (event_id) DO NOTHING"),
      insert_checkpoint_(db_,
                         "INSERT INTO checkpoints (chain_position, hash, signature, public_key, signed_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (chain_position) DO NOTHING"),
      last_row_(db_, "SELECT chain_position, hash FROM events ORDER BY chain_position DESC LIMIT 1") {
  head_ = read_head(db_);
}

Appender::~Appender() = default;

size_t Appender::append(const PendingEvent *events, size_t count, const SigningKey *checkpoint_key) {
  views_.clear();
  for (size_t i = 0; i < count; ++i)
    views_.push_back(events[i].view());
  return append(views_.data(), count, checkpoint_key);
}

size_t Appender::append(const EventView *events, size_t count, const SigningKey *checkpoint_key) {
  new_checkpoint_.reset();
  uint64_t position = head_.chain_position;
  std::string previous = head_.hash;
  std::optional<Checkpoint> checkpoint;
  db_.exec("BEGIN IMMEDIATE");
  try {
    // Another appender (e.g. a replacing plugin instance) may have written since: continue from
    // the stored head, which the write lock now keeps still. One index lookup per batch.
    uint64_t stored = 0;
    std::string_view stored_hash = genesis_hash;
    if (last_row_.step()) {
      stored = static_cast<uint64_t>(last_row_.int64(0));
      stored_hash = last_row_.text(1);
    }
    if (stored != position || stored_hash != previous) {
      position = head_.chain_position = stored;
      previous = head_.hash = stored_hash;
    }
    last_row_.reset();
    for (size_t i = 0; i < count; ++i) {
      const EventView &e = events[i];
      RowView row{position + 1, e.event_id, e.correlation_id, e.event_type,
                  e.timestamp,  e.service,  e.data,           previous};
      hasher_.hash(row, hash_);
      insert_.bind(1, static_cast<int64_t>(row.chain_position));
      insert_.bind(2, row.event_id);
      insert_.bind(3, row.correlation_id);
      insert_.bind(4, row.event_type);
      insert_.bind(5, row.timestamp);
      insert_.bind(6, row.service);
      insert_.bind(7, row.data);
      insert_.bind(8, row.previous_hash);
      insert_.bind(9, hash_);
      insert_.step();
      insert_.reset();
      // A duplicate event_id inserts nothing and so takes no position: the chain stays gap-free.
      if (sqlite3_changes(db_.handle()) == 1) {
        ++position;
        previous.swap(hash_);
      }
    }
    bool checkpointed = head_.last_checkpoint && head_.last_checkpoint->chain_position == position;
    if (checkpoint_key && position > 0 && !checkpointed) {
      checkpoint = checkpoint_key->sign(position, previous, rfc3339_ms(wall_clock_ns()));
      insert_checkpoint(*checkpoint);
    }
    db_.exec("COMMIT");
  } catch (...) {
    last_row_.reset();
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  size_t written = static_cast<size_t>(position - head_.chain_position);
  head_.chain_position = position;
  head_.hash = std::move(previous);
  if (checkpoint)
    head_.last_checkpoint = new_checkpoint_ = std::move(checkpoint);
  return written;
}

std::optional<Checkpoint> Appender::checkpoint(const SigningKey &key) {
  append(static_cast<const EventView *>(nullptr), 0, &key);
  return new_checkpoint_;
}

void Appender::insert_checkpoint(const Checkpoint &c) {
  insert_checkpoint_.bind(1, static_cast<int64_t>(c.chain_position));
  insert_checkpoint_.bind(2, c.hash);
  insert_checkpoint_.bind(3, c.signature);
  insert_checkpoint_.bind(4, c.public_key);
  insert_checkpoint_.bind(5, c.signed_at);
  insert_checkpoint_.step();
  insert_checkpoint_.reset();
}

} // namespace th::audit
