// The audit-sqlite plugin's params (see README.md for the table).
#pragma once

#include <audit_chain/appender.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace th::audit {

struct SinkParams {
  std::string path;
  // Under a backlog the writer commits everything queued, up to this many events per
  // transaction: the event_id index pages one commit dirties are shared by more rows (what
  // matters for ids that do not sort by time).
  size_t batch_max = 32768;
  std::chrono::milliseconds batch_delay{5};
  Synchronous synchronous = Synchronous::normal;
  uint64_t checkpoint_every = 10000;
  std::chrono::milliseconds checkpoint_interval{10000};
  std::optional<std::string> signing_key;
  std::string checkpoint_file; // default: path + ".checkpoints.jsonl"
  size_t queue_capacity = 65536;
  size_t wal_checkpoint_pages = 4096; // WAL length (pages) that starts a background checkpoint
  // How long a transaction waits for another connection's lock before the sink reports itself
  // unavailable (and retries), and the longest pause between retries of a failed commit.
  std::chrono::milliseconds busy_timeout{5000};
  std::chrono::milliseconds retry_max{2000};
};

// Throws std::invalid_argument naming the offending param.
SinkParams parse_sink_params(std::string_view params_json);

} // namespace th::audit
