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
  size_t batch_max = 512;
  std::chrono::milliseconds batch_delay{5};
  Synchronous synchronous = Synchronous::normal;
  uint64_t checkpoint_every = 10000;
  std::chrono::milliseconds checkpoint_interval{10000};
  std::optional<std::string> signing_key;
  std::string checkpoint_file; // default: path + ".checkpoints.jsonl"
  size_t queue_capacity = 65536;
};

// Throws std::invalid_argument naming the offending param.
SinkParams parse_sink_params(std::string_view params_json);

} // namespace th::audit
