// Test helper process: consumes one signal from durable "mcp-signals", publishes its effect
// (a Fill with a msg_id derived from the signal's corr_id), then dies by SIGKILL before the
// bus can ack the signal: the "crash between effect and ack" of the exactly-once tests.
//
//   jetstream_crash_consumer NATS_URL STREAM ACK_WAIT_S [deferred|waiting]
#include "bus/jetstream_bus.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: %s NATS_URL STREAM ACK_WAIT_S [deferred|waiting]\n", argv[0]);
    return 2;
  }
  th::JetStreamOptions options = th::default_jetstream_options();
  options.servers = {argv[1]};
  options.stream = argv[2];
  options.consumers.ack_wait_s = std::atoi(argv[3]);
  options.consumers.fetch_batch = 1;
  options.consumers.defer_handler_publishes = argc == 5 && std::string(argv[4]) == "deferred";
  auto bus = th::make_jetstream_bus(options);
  bus->subscribe({"mcp-signals", {th::Subject::signals_normalized}}, [&](const th::Delivery &delivery) {
    const auto &signal = std::get<th::Signal>(delivery.message.payload);
    th::Message effect;
    effect.subject = th::Subject::executions_fill;
    th::Fill fill;
    fill.corr_id = signal.corr_id;
    fill.fill_id = "fill-" + signal.corr_id;
    fill.instrument = signal.instrument;
    fill.side = TH_SIDE_BUY;
    fill.fill_status = TH_FILL_COMPLETE;
    fill.quantity_filled = 1;
    fill.avg_fill_price = 100;
    fill.fill_timestamp_ns = signal.timestamp_ns;
    fill.execution_venue = "simulator";
    effect.payload = fill;
    effect.msg_id = signal.corr_id + ":fill";
    auto status = bus->publish(effect);
    std::fprintf(stderr, "crash_consumer: effect published (status %d), dying before ack\n", int(status));
    std::raise(SIGKILL);
  });
  bus->start();
  std::this_thread::sleep_for(std::chrono::seconds(30)); // killed long before
  return 1;
}
