// Embedded-bus throughput and latency. Prints one table; never a pass/fail test.
//
//   bench_bus [--events N] [--capacity C] [--rate EVENTS_PER_S] [--runs R]
//
// Throughput: publish N signals as fast as one (or two) producer threads can, time until
// wait_idle() returns. Latency: the publisher stamps steady_clock into the signal's timestamp,
// the handler records now - stamp; once at a paced offered rate, once flat out (saturation,
// where latency is the time a message spends behind a full queue).
#include "bus/embedded_bus.hpp"
#include "events/json_codec.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>

namespace {

using Clock = std::chrono::steady_clock;
using th::Message;

struct Options {
  long events = 5'000'000;
  long latency_events = 200'000;
  size_t capacity = 65536;
  double rate = 100'000; // offered rate for the paced latency run
  int runs = 3;
};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// A realistic normalized signal: every string but the instrument outgrows the small-string buffer.
Message sample_signal() {
  th::Signal s;
  s.corr_id = "tradingview_9f86d081884c7d65";
  s.instrument = "BTC/USDT";
  s.action = TH_SIGNAL_BUY;
  s.strength = 0.8;
  s.price = 42000.5;
  s.source = "tradingview";
  s.extra_json = R"({"metadata":{"strategy":"breakout"}})";
  return Message{th::Subject::signals_normalized, s, {}};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Events per second from `producers` threads to `subscribers` subscriptions (median of runs).
double throughput(const Options &o, int producers, int subscribers) {
  std::vector<double> rates;
  for (int run = 0; run < o.runs; ++run) {
    auto bus = th::make_embedded_bus({.queue_capacity = o.capacity});
    std::vector<std::atomic<long>> handled(subscribers);
    for (int s = 0; s < subscribers; ++s)
      bus->subscribe(
          {"bench-" + std::to_string(s), {th::Subject::signals_normalized}},
          [&handled, s](const th::Delivery &) { handled[s].fetch_add(1, std::memory_order_relaxed); });
    bus->start();
    const long per_producer = o.events / producers;
    // Warm-up: every slot holds a signal-shaped message, so the timed part reuses capacity.
    Message warm = sample_signal();
    for (size_t i = 0; i < 2 * o.capacity; ++i)
      bus->publish(warm);
    bus->wait_idle(std::chrono::seconds(60));

    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    threads.reserve(producers);
    for (int p = 0; p < producers; ++p)
      threads.emplace_back([&] {
        Message m = sample_signal();
        auto &signal = std::get<th::Signal>(m.payload);
        while (!go.load(std::memory_order_acquire))
          std::this_thread::yield();
        for (long i = 0; i < per_producer; ++i) {
          signal.price = static_cast<double>(i);
          if (bus->publish(m) != th::PublishStatus::ok)
            std::abort();
        }
      });
    const auto start = Clock::now();
    go.store(true, std::memory_order_release);
    for (auto &t : threads)
      t.join();
    if (!bus->wait_idle(std::chrono::seconds(120)))
      std::abort();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto &h : handled)
      if (h.load() != per_producer * producers + static_cast<long>(2 * o.capacity))
        std::abort();
    rates.push_back(static_cast<double>(per_producer * producers) / seconds);
    bus->stop();
  }
  return median(rates);
}

struct Latency {
  double achieved_rate;
  int64_t p50, p99, p999, max;
};

// Publish-to-handler latency with one producer and one subscriber. rate <= 0: flat out.
Latency latency(const Options &o, double rate) {
  auto bus = th::make_embedded_bus({.queue_capacity = o.capacity});
  std::vector<int64_t> samples;
  samples.reserve(static_cast<size_t>(o.latency_events) + 2 * o.capacity);
  bus->subscribe({"bench-latency", {th::Subject::signals_normalized}}, [&](const th::Delivery &d) {
    samples.push_back(now_ns() - std::get<th::Signal>(d.message.payload).timestamp_ns);
  });
  bus->start();
  Message m = sample_signal();
  auto &signal = std::get<th::Signal>(m.payload);
  for (size_t i = 0; i < 2 * o.capacity; ++i)
    bus->publish(m);
  bus->wait_idle(std::chrono::seconds(60));
  samples.clear();

  const int64_t interval_ns = rate > 0 ? static_cast<int64_t>(1e9 / rate) : 0;
  const int64_t start = now_ns();
  for (long i = 0; i < o.latency_events; ++i) {
    if (interval_ns) {
      const int64_t due = start + i * interval_ns;
      while (now_ns() < due)
        std::this_thread::yield(); // on one core, lets the subscriber run
    }
    signal.timestamp_ns = now_ns();
    if (bus->publish(m) != th::PublishStatus::ok)
      std::abort();
  }
  if (!bus->wait_idle(std::chrono::seconds(120)))
    std::abort();
  const double seconds = static_cast<double>(now_ns() - start) / 1e9;
  bus->stop();
  std::sort(samples.begin(), samples.end());
  const auto at = [&](double q) {
    return samples[std::min(samples.size() - 1, static_cast<size_t>(q * samples.size()))];
  };
  return {static_cast<double>(samples.size()) / seconds, at(0.50), at(0.99), at(0.999), samples.back()};
}

// CPUs this process may run on (taskset narrows it; hardware_concurrency() does not see that).
int usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return static_cast<int>(std::thread::hardware_concurrency());
  return CPU_COUNT(&set);
}

// Nanoseconds per call of `work`, best of three batches of `iterations`.
template <class Work> double ns_per_call(long iterations, Work &&work) {
  double best = 1e18;
  for (int batch = 0; batch < 3; ++batch) {
    const int64_t start = now_ns();
    for (long i = 0; i < iterations; ++i)
      work(i);
    best = std::min(best, static_cast<double>(now_ns() - start) / static_cast<double>(iterations));
  }
  return best;
}

// The contract-JSON codec as the JetStream bus uses it: struct -> text and text -> struct.
void codec_table() {
  th::Signal signal = std::get<th::Signal>(sample_signal().payload);
  signal.timestamp_ns = 1736937001250000000;
  th::Fill fill;
  fill.corr_id = signal.corr_id;
  fill.fill_id = "sim-fill-000001";
  fill.order_id = "sim-order-000001";
  fill.agent_id = "momentum-1";
  fill.instrument = "BTC/USDT";
  fill.side = TH_SIDE_BUY;
  fill.fill_status = TH_FILL_COMPLETE;
  fill.quantity_filled = 0.5;
  fill.quantity_requested = 0.5;
  fill.avg_fill_price = 42001.25;
  fill.fill_timestamp_ns = signal.timestamp_ns;
  fill.execution_venue = "simulator";
  fill.fees = {0.21, 0.01, 0.001};
  fill.slippage_bps = 0.3;
  const std::string signal_text = th::to_json(signal).dump();
  const std::string fill_text = th::to_json(fill).dump();
  volatile size_t sink = 0;
  constexpr long n = 100'000;
  std::printf("\n%-36s %12s %12s\n", "codec (one thread)", "ns/event", "events/s");
  const auto row = [](const char *name, double ns) {
    std::printf("%-36s %12.0f %12.0f\n", name, ns, 1e9 / ns);
  };
  row("Signal encode (to_json + dump)", ns_per_call(n, [&](long i) {
        signal.price = static_cast<double>(i);
        sink = sink + th::to_json(signal).dump().size();
      }));
  row("Signal decode (parse + from_json)", ns_per_call(n, [&](long) {
        sink = sink + th::signal_from_json(nlohmann::json::parse(signal_text)).corr_id.size();
      }));
  row("Fill encode (to_json + dump)", ns_per_call(n, [&](long i) {
        fill.avg_fill_price = static_cast<double>(i);
        sink = sink + th::to_json(fill).dump().size();
      }));
  row("Fill decode (parse + from_json)", ns_per_call(n, [&](long) {
        sink = sink + th::fill_from_json(nlohmann::json::parse(fill_text)).fill_id.size();
      }));
  row("timestamp format",
      ns_per_call(n, [&](long i) { sink = sink + th::format_timestamp(i * 1'000'000).size(); }));
  row("timestamp parse", ns_per_call(n, [&](long) {
        sink = sink + static_cast<size_t>(*th::parse_timestamp("2025-01-15T10:30:01.250+02:00") & 1);
      }));
}

std::string human_ns(int64_t ns) {
  char buffer[32];
  if (ns < 10'000)
    std::snprintf(buffer, sizeof buffer, "%lld ns", static_cast<long long>(ns));
  else if (ns < 10'000'000)
    std::snprintf(buffer, sizeof buffer, "%.1f us", ns / 1e3);
  else
    std::snprintf(buffer, sizeof buffer, "%.1f ms", ns / 1e6);
  return buffer;
}

int run(int argc, char **argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char *value = argv[i + 1];
    if (flag == "--events")
      o.events = std::atol(value);
    else if (flag == "--capacity")
      o.capacity = static_cast<size_t>(std::atol(value));
    else if (flag == "--rate")
      o.rate = std::atof(value);
    else if (flag == "--runs")
      o.runs = std::max(1, std::atoi(value));
    else if (flag == "--latency-events")
      o.latency_events = std::atol(value);
    else {
      std::fprintf(
          stderr,
          "usage: bench_bus [--events N] [--latency-events N] [--capacity C] [--rate R] [--runs R]\n");
      return 2;
    }
  }

  std::printf(
      "embedded bus: %ld events per throughput run (median of %d), queue capacity %zu, %d usable CPU(s)\n\n",
      o.events, o.runs, o.capacity, usable_cpus());
  std::printf("%-36s %16s %16s\n", "throughput case", "events/s", "deliveries/s");
  const auto row = [](const char *name, double events_per_s, int subscribers) {
    std::printf("%-36s %16.0f %16.0f\n", name, events_per_s, events_per_s * subscribers);
  };
  row("1 producer -> 1 subscriber", throughput(o, 1, 1), 1);
  row("1 producer -> 3 subscribers", throughput(o, 1, 3), 3);
  row("2 producers -> 1 subscriber", throughput(o, 2, 1), 1);

  std::printf("\n%-36s %12s %10s %10s %10s %10s\n", "latency (publish -> handler)", "achieved/s", "p50",
              "p99", "p99.9", "max");
  const auto latency_row = [](const std::string &name, const Latency &l) {
    std::printf("%-36s %12.0f %10s %10s %10s %10s\n", name.c_str(), l.achieved_rate, human_ns(l.p50).c_str(),
                human_ns(l.p99).c_str(), human_ns(l.p999).c_str(), human_ns(l.max).c_str());
  };
  latency_row("offered " + std::to_string(static_cast<long>(o.rate)) + "/s", latency(o, o.rate));
  latency_row("saturation (flat out)", latency(o, 0));
  codec_table();
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &e) { // a bus or codec failure: say it rather than abort
    std::fprintf(stderr, "bench_bus: %s\n", e.what());
    return 1;
  }
}
