// bench_jetstream [messages] [publisher threads]: starts a nats-server -js (file storage) and
// measures, on the same server and payload (a contract Signal, JSON):
//   raw publish   js_PublishAsync with 1024 in flight, then wait for every PubAck
//   raw consume   one durable pull consumer, fetch 256, ack each
//   bus publish   Bus::publish from N threads (each call waits for its PubAck)
//   bus consume   Bus subscription: fetch, decode, handler, ack
//   bus latency   one publisher, one message at a time: PubAck round trip p50/p99
//   bus relay     a subscription publishing one effect per stored signal, until the effects'
//                 consumer has them all: handler publishes waiting per PubAck, then deferred
// Prints a table; it is a benchmark, not a test.
#include "bus/jetstream_bus.hpp"
#include "events/json_codec.hpp"
#include "support/nats_server.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

th::Signal signal(int i) {
  th::Signal s;
  s.corr_id = "bench_" + std::to_string(100000000 + i);
  s.instrument = "EURUSD";
  s.action = TH_SIGNAL_BUY;
  s.strength = 0.8;
  s.price = 1.0875;
  s.timestamp_ns = 1736937001250LL * 1000000;
  s.source = "test";
  return s;
}

void row(const char *name, int messages, double seconds, const char *note = "") {
  std::printf("| %-13s | %9d | %8.3f | %10.0f | %s\n", name, messages, seconds, messages / seconds, note);
}

void check(natsStatus status, const char *what) {
  if (status != NATS_OK) {
    std::fprintf(stderr, "%s: %s\n", what, natsStatus_GetText(status));
    std::exit(1);
  }
}

void raw_loop(const std::string &url, int messages) {
  natsConnection *nc = nullptr;
  jsCtx *js = nullptr;
  check(natsConnection_ConnectTo(&nc, url.c_str()), "connect");
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = 1024;
  check(natsConnection_JetStream(&js, nc, &options), "jetstream");
  const char *subjects[] = {"raw.bench"};
  jsStreamConfig stream;
  jsStreamConfig_Init(&stream);
  stream.Name = "RAWBENCH";
  stream.Subjects = subjects;
  stream.SubjectsLen = 1;
  stream.Storage = js_FileStorage;
  stream.Duplicates = 120LL * 1000000000;
  check(js_AddStream(nullptr, js, &stream, nullptr, nullptr), "add stream");

  const std::string body = th::to_json(signal(0)).dump();
  auto start = Clock::now();
  for (int i = 0; i < messages; ++i) {
    jsPubOptions pub;
    jsPubOptions_Init(&pub);
    std::string id = "raw-" + std::to_string(i); // the same header cost as the bus
    pub.MsgId = id.c_str();
    check(js_PublishAsync(js, "raw.bench", body.data(), static_cast<int>(body.size()), &pub), "publish");
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 60000;
  check(js_PublishAsyncComplete(js, &wait), "publish complete");
  row("raw publish", messages, seconds_since(start), "async, 1024 in flight");

  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Config.AckPolicy = js_AckExplicit;
  natsSubscription *sub = nullptr;
  check(js_PullSubscribe(&sub, js, "raw.bench", "raw", nullptr, &sub_options, nullptr), "pull subscribe");
  start = Clock::now();
  int received = 0;
  while (received < messages) {
    natsMsgList list{nullptr, 0};
    natsSubscription_Fetch(&list, sub, 256, 1000, nullptr);
    for (int i = 0; i < list.Count; ++i)
      natsMsg_Ack(list.Msgs[i], nullptr);
    received += list.Count;
    natsMsgList_Destroy(&list);
  }
  natsConnection_Flush(nc);
  row("raw consume", messages, seconds_since(start), "fetch 256, ack each");
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

void bus_loop(const std::string &url, int messages, int threads) {
  th::JetStreamOptions options = th::default_jetstream_options();
  options.servers = {url};
  options.consumers.fetch_batch = 256;
  auto publisher = th::make_jetstream_bus(options);
  publisher->start();

  std::vector<th::Message> prepared(messages);
  for (int i = 0; i < messages; ++i) {
    prepared[i].subject = th::Subject::signals_normalized;
    prepared[i].payload = signal(i);
    prepared[i].msg_id = th::corr_id_of(prepared[i]) + ":signal";
  }
  std::atomic<int> failures{0};
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      for (int i = t; i < messages; i += threads)
        if (publisher->publish(prepared[i]) != th::PublishStatus::ok)
          ++failures;
    });
  for (auto &worker : workers)
    worker.join();
  char note[64];
  std::snprintf(note, sizeof note, "%d threads, %d not ok", threads, failures.load());
  row("bus publish", messages, seconds_since(start), note);

  std::atomic<int> handled{0};
  auto consumer = th::make_jetstream_bus(options);
  consumer->subscribe({"bench", {th::Subject::signals_normalized}}, [&](const th::Delivery &) { ++handled; });
  start = Clock::now();
  consumer->start();
  while (handled < messages)
    std::this_thread::sleep_for(1ms);
  row("bus consume", messages, seconds_since(start), "fetch 256, decode, handler, ack");
  consumer->stop();

  for (bool deferred : {false, true}) {
    th::JetStreamOptions relay_options = options;
    relay_options.consumers.defer_handler_publishes = deferred;
    std::atomic<int> effects{0};
    auto relay = th::make_jetstream_bus(relay_options);
    std::string durable = deferred ? "relay-deferred" : "relay-waiting";
    relay->subscribe({durable, {th::Subject::signals_normalized}}, [&](const th::Delivery &delivery) {
      th::Message effect;
      effect.subject = th::Subject::audit_event;
      th::AuditRecord record;
      record.event_id = durable + ":" + th::corr_id_of(delivery.message);
      record.correlation_id = th::corr_id_of(delivery.message);
      record.event_type = "signal_published";
      record.timestamp_ns = 1736937001250LL * 1000000;
      record.service = "bench";
      effect.payload = record;
      effect.msg_id = record.event_id;
      relay.get()->publish(effect);
    });
    relay->subscribe({durable + "-effects", {th::Subject::audit_event}}, [&](const th::Delivery &delivery) {
      if (std::get<th::AuditRecord>(delivery.message.payload).event_id.rfind(durable, 0) == 0)
        ++effects;
    });
    start = Clock::now();
    relay->start();
    while (effects < messages)
      std::this_thread::sleep_for(1ms);
    row("bus relay", messages, seconds_since(start),
        deferred ? "effects deferred to the batch end" : "each effect waits for its PubAck");
    relay->stop();
  }

  constexpr int samples = 2000;
  std::vector<double> latencies;
  for (int i = 0; i < samples; ++i) {
    th::Message m = prepared[0];
    m.msg_id = "latency-" + std::to_string(i);
    auto sent = Clock::now();
    publisher->publish(m);
    latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - sent).count());
  }
  std::sort(latencies.begin(), latencies.end());
  std::printf("| bus latency   | %9d | p50 %.0f us, p99 %.0f us (publish -> PubAck, one at a time)\n",
              samples, latencies[samples / 2], latencies[samples * 99 / 100]);
}

} // namespace

int main(int argc, char **argv) {
  const int messages = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 16;
  th::test::NatsServer server;
  std::printf("nats-server -js (file storage) on %s, %d messages\n", server.url().c_str(), messages);
  std::printf("| %-13s | %9s | %8s | %10s | %s\n", "loop", "messages", "seconds", "msgs/s", "notes");
  std::printf("|---------------|-----------|----------|------------|------\n");
  raw_loop(server.url(), messages);
  bus_loop(server.url(), messages, threads);
  return 0;
}
