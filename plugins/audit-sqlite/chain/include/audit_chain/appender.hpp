// Appends events to the chain in one transaction per batch (the writer side of the plugin; also
// used by tests and benchmarks). Each batch re-reads the stored head under the write lock, so
// several appenders on one database (one after another, or interleaved) keep a single chain.
#pragma once

#include "audit_chain/checkpoint.hpp"
#include "audit_chain/head.hpp"
#include "audit_chain/row.hpp"
#include "audit_chain/sqlite.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace th::audit {

// An event before chaining, borrowed. `data` must be canonical JSON (see canonicalize()) and
// `timestamp` RFC 3339 with milliseconds (see rfc3339_ms()).
struct EventView {
  std::string_view event_id, correlation_id, event_type, timestamp, service, data;
};

// The same, owned.
struct PendingEvent {
  std::string event_id, correlation_id, event_type, timestamp, service, data;
  EventView view() const { return {event_id, correlation_id, event_type, timestamp, service, data}; }
};

enum class Synchronous { off, normal, full };

struct AppenderOptions {
  Synchronous synchronous = Synchronous::normal;
};

// The connection settings the appender uses (WAL, page and cache size, synchronous); the benchmark
// applies them to its raw-insert baseline too.
void configure_for_append(Database &db, Synchronous synchronous);

class Appender {
public:
  // Opens or creates the database (WAL mode) and reads the stored head.
  Appender(const std::string &db_path, AppenderOptions options);
  ~Appender();

  // Inserts the events in order in one transaction. An event whose event_id is already stored
  // is skipped without taking a position. With a checkpoint, it is stored in the same
  // transaction (see new_checkpoint()). Returns the number of rows written. On failure rolls
  // back, leaves the head unchanged and throws.
  size_t append(const EventView *events, size_t count, const SigningKey *checkpoint_key = nullptr);
  size_t append(const PendingEvent *events, size_t count, const SigningKey *checkpoint_key = nullptr);
  size_t append(const std::vector<PendingEvent> &events) { return append(events.data(), events.size()); }

  // Signs the current head into the checkpoints table (own transaction) unless it is already
  // checkpointed or the chain is empty. Returns the new checkpoint.
  std::optional<Checkpoint> checkpoint(const SigningKey &key);

  // The checkpoint the last append()/checkpoint() signed, if it signed one.
  const std::optional<Checkpoint> &new_checkpoint() const { return new_checkpoint_; }
  const Head &head() const { return head_; }
  Database &database() { return db_; }

private:
  void insert_checkpoint(const Checkpoint &);

  Database db_;
  Head head_;
  Statement insert_;
  Statement insert_checkpoint_;
  Statement last_row_;
  RowHasher hasher_;
  std::string hash_;
  std::optional<Checkpoint> new_checkpoint_;
  std::vector<EventView> views_;
};

} // namespace th::audit
