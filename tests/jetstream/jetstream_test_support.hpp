// Shared pieces of the JetStream tests: options for a test server, valid payloads, a delivery
// recorder, polling with a deadline, and a raw nats.c view of the server for inspection.
#pragma once

#include "bus/jetstream_bus.hpp"
#include "events/json_codec.hpp"
#include "support/nats_server.hpp"

#include <nats/nats.h>

#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace th::test {

using namespace std::chrono_literals;

// Polls `condition` until true or the timeout passes; returns its last value.
template <class Condition> bool eventually(Condition condition, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return condition();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

inline JetStreamOptions options_for(const NatsServer &server) {
  JetStreamOptions options = default_jetstream_options();
  options.servers = {server.url()};
  options.connection_name = "jetstream-test";
  options.publish_timeout_ms = 2000;
  options.reconnect_wait_ms = 50;
  options.consumers.fetch_wait_ms = 100;
  return options;
}

constexpr TimeNs test_time = 1736937001250LL * 1000000; // 2025-01-15T10:30:01.250Z

inline Signal make_signal(const std::string &corr_id) {
  Signal s;
  s.corr_id = corr_id;
  s.instrument = "EURUSD";
  s.action = TH_SIGNAL_BUY;
  s.strength = 0.75;
  s.price = 1.0875;
  s.timestamp_ns = test_time;
  s.source = "test";
  return s;
}

inline OrderIntent make_intent(const std::string &corr_id) {
  OrderIntent o;
  o.corr_id = corr_id;
  o.agent_id = "momentum-1";
  o.instrument = "EURUSD";
  o.side = TH_SIDE_BUY;
  o.order_type = TH_ORDER_LIMIT;
  o.time_in_force = TH_TIF_IOC;
  o.quantity = 2.5;
  o.price_limit = 1.09;
  o.timestamp_ns = test_time;
  o.strategy = "momentum";
  o.risk_params.max_position = 10;
  return o;
}

inline Fill make_fill(const std::string &corr_id) {
  Fill f;
  f.corr_id = corr_id;
  f.fill_id = "fill-" + corr_id;
  f.order_id = "order-" + corr_id;
  f.instrument = "EURUSD";
  f.side = TH_SIDE_BUY;
  f.fill_status = TH_FILL_COMPLETE;
  f.quantity_filled = 2.5;
  f.quantity_requested = 2.5;
  f.avg_fill_price = 1.0876;
  f.fill_timestamp_ns = test_time;
  f.execution_venue = "simulator";
  f.fees.commission = 0.1;
  f.slippage_bps = 0.5;
  return f;
}

inline Reconcile make_reconcile(const std::string &corr_id) {
  Reconcile r;
  r.corr_id = corr_id;
  r.reconcile_id = "rec-" + corr_id;
  r.account_id = "acct-1";
  r.instrument = "EURUSD";
  r.position_delta = 2.5;
  r.new_position = 2.5;
  r.avg_entry_price = 1.0876;
  r.reconcile_timestamp_ns = test_time;
  return r;
}

inline AuditRecord make_audit(const std::string &corr_id) {
  AuditRecord a;
  a.event_id = "evt-" + corr_id;
  a.correlation_id = corr_id;
  a.event_type = "fill_received";
  a.timestamp_ns = test_time;
  a.service = "exec";
  a.data_json = R"({"fill_id":"fill-1","quantity":2.5})";
  return a;
}

inline Message message(Subject subject, Payload payload, std::string msg_id = {}) {
  Message m;
  m.subject = subject;
  m.payload = std::move(payload);
  m.msg_id = std::move(msg_id);
  return m;
}

// Every delivery a handler saw, in order.
class Recorder {
public:
  struct Entry {
    Message message;
    bool redelivered;
  };
  Handler handler() {
    return [this](const Delivery &delivery) {
      std::lock_guard lock(mutex_);
      entries_.push_back({delivery.message, delivery.redelivered});
    };
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }
  std::vector<Entry> entries() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }
  std::map<std::string, int> count_by_msg_id() const {
    std::map<std::string, int> counts;
    for (const auto &entry : entries())
      ++counts[entry.message.msg_id];
    return counts;
  }

private:
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

// A plain nats.c connection to inspect or prepare the server independently of the bus.
class RawJetStream {
public:
  explicit RawJetStream(const std::string &url) {
    if (natsConnection_ConnectTo(&nc_, url.c_str()) != NATS_OK)
      throw std::runtime_error("RawJetStream: cannot connect to " + url);
    if (natsConnection_JetStream(&js_, nc_, nullptr) != NATS_OK)
      throw std::runtime_error("RawJetStream: no context");
  }
  ~RawJetStream() {
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
  }
  RawJetStream(const RawJetStream &) = delete;
  RawJetStream &operator=(const RawJetStream &) = delete;

  jsCtx *js() { return js_; }
  natsConnection *connection() { return nc_; }

  // Messages stored in the stream (0 when it does not exist).
  uint64_t stored(const std::string &stream) {
    jsStreamInfo *info = nullptr;
    if (js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, nullptr) != NATS_OK)
      return 0;
    uint64_t count = info->State.Msgs;
    jsStreamInfo_Destroy(info);
    return count;
  }

  void add_stream(const std::string &name, std::vector<const char *> subjects, jsStorageType storage) {
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = name.c_str();
    config.Subjects = subjects.data();
    config.SubjectsLen = static_cast<int>(subjects.size());
    config.Storage = storage;
    if (js_AddStream(nullptr, js_, &config, nullptr, nullptr) != NATS_OK)
      throw std::runtime_error("RawJetStream: cannot add stream " + name);
  }

  void add_pull_consumer(const std::string &stream, const std::string &durable, const char *filter,
                         int ack_wait_s) {
    jsConsumerConfig config;
    jsConsumerConfig_Init(&config);
    config.Durable = durable.c_str();
    config.AckPolicy = js_AckExplicit;
    config.AckWait = int64_t(ack_wait_s) * 1'000'000'000;
    config.FilterSubject = filter;
    if (js_AddConsumer(nullptr, js_, stream.c_str(), &config, nullptr, nullptr) != NATS_OK)
      throw std::runtime_error("RawJetStream: cannot add consumer " + durable);
  }

  void publish_raw(const char *subject, const std::string &body) {
    if (js_Publish(nullptr, js_, subject, body.data(), static_cast<int>(body.size()), nullptr, nullptr) !=
        NATS_OK)
      throw std::runtime_error("RawJetStream: publish failed");
  }

private:
  natsConnection *nc_ = nullptr;
  jsCtx *js_ = nullptr;
};

} // namespace th::test
