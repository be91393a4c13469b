// Settings of the JetStream bus: the `bus.jetstream` section of a deployment (docs/jetstream.md).
#pragma once

#include "config/locator.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace th {

struct JetStreamTlsOptions {
  std::string ca_file;   // trusted CAs (PEM); setting any tls field turns TLS on
  std::string cert_file; // client certificate chain (PEM), with key_file
  std::string key_file;
  bool enabled() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

// Settings shared by every durable consumer this process creates or checks.
struct JetStreamConsumerOptions {
  int ack_wait_s = 30;     // un-acked deliveries are redelivered after this long
  int max_deliver = 10;    // deliveries per message before the server gives up on it
  int fetch_batch = 256;   // messages per pull request (at most two requests open)
  int fetch_wait_ms = 250; // how long one pull request lives on the server (also bounds stop())
  // A handler's publishes return once sent ("ok" = sent) and the delivery is acked when all of
  // them are stored, read once no more messages are waiting: effects are pipelined instead of
  // one PubAck round trip each. A handler then never sees "duplicate" or a late "unavailable".
  bool defer_handler_publishes = false;
};

struct JetStreamOptions {
  std::vector<std::string> servers; // default: $NATS_URL, else nats://127.0.0.1:4222
  std::string stream = "TRADING";
  int replicas = 1;              // stream replicas when the bus creates the stream
  int duplicate_window_s = 120;  // Nats-Msg-Id de-duplication window of the stream
  int max_in_flight = 1024;      // publishes awaiting their PubAck, per process
  int publish_timeout_ms = 5000; // upper bound of one publish(), including waiting for a reconnect
  int connect_timeout_ms = 2000; // per attempt at start()
  // How long start() retries connecting and creating the stream and consumers (backoff from
  // 100 ms doubling to 5 s, one log line per attempt) before it gives up; 0: one attempt.
  int start_timeout_ms = 60000;
  int reconnect_wait_ms = 250;          // pause between reconnect attempts (attempts never stop)
  int reconnect_buffer_bytes = 8 << 20; // what is buffered while disconnected (acks, in-flight)
  std::string connection_name = "tradehost";
  // Authentication: at most one of creds_file, nkey_file (+ nkey), user (+ password).
  std::string creds_file;
  std::string nkey;      // public user nkey ("U...") matching nkey_file
  std::string nkey_file; // file holding the nkey seed
  std::string user;
  std::string password; // put ${NATS_PASSWORD} in the file: never a literal secret
  JetStreamTlsOptions tls;
  JetStreamConsumerOptions consumers;
};

// The defaults above with servers filled from $NATS_URL (or nats://127.0.0.1:4222).
JetStreamOptions default_jetstream_options();

// Parses the bus.jetstream object (`section`, may be null or empty for all defaults). Throws
// ConfigErrors for every problem found, each placed by `locate`, which is given the JSON pointer
// of the setting within the section ("" for the section itself, "/consumers/fetch_batch"):
// in the host, the deployment asked at "/bus/jetstream" + pointer (cli/runtime.cpp).
JetStreamOptions parse_jetstream_options(const nlohmann::json &section, const Locator &locate);

} // namespace th
