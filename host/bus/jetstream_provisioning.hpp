// Provisioning (the part nats.c keeps in jsm.c): the stream and durable consumers this
// deployment needs, created when absent and checked when present (never changed), and the
// consumer counts wait_idle() and health() read. Called from start(), wait_idle() and
// health() only; every call is one or two JetStream API requests on the context given.
#pragma once

#include "bus/jetstream_options.hpp"

#include <nats/nats.h>

#include <cstdint>
#include <optional>
#include <string>

namespace th {

// Creates the stream with the contract's six subjects, or checks the one there. Throws
// TransientStartError when the server does not answer or refuses for now (e.g. 10005 while a
// cluster forms), std::runtime_error naming every difference when it exists otherwise.
void ensure_stream(jsCtx *js, const JetStreamOptions &options);

// The same for the durable pull consumer `durable` with `filter` (empty: the whole stream).
void ensure_consumer(jsCtx *js, const JetStreamOptions &options, const std::string &durable,
                     const std::string &filter);

struct ConsumerCounts {
  uint64_t num_pending = 0;    // in the stream, not yet delivered to the consumer
  int64_t num_ack_pending = 0; // delivered, not yet acked
  int64_t num_waiting = 0;     // pull requests open on the server
};

// The consumer's counts, or nullopt when the server did not answer within wait_ms.
std::optional<ConsumerCounts> read_consumer_counts(jsCtx *js, const std::string &stream,
                                                   const std::string &durable, int64_t wait_ms);

} // namespace th
