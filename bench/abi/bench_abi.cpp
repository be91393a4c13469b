// bench_abi: the cost of one on_signal call through the plugin ABI, against a direct C++
// virtual call doing the same work. Prints a table; not a test (timings vary with the machine).
//
//   build-*/bin/bench_abi [calls_per_round]
#include "direct_strategy.hpp"

#include "events/c_view.hpp"
#include "loader/plugin_instance.hpp"
#include "loader/plugin_library.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

constexpr int rounds = 7;

// Quiet services; emit does the same work as the direct baseline's sink.
class BenchServices : public th::HostServices {
public:
  void log(const th::InstanceContext &, int32_t, std::string_view, std::string_view) override {}
  th_status emit_order_intent(const th::InstanceContext &, const th_order_intent &intent) override {
    quantity += intent.quantity;
    return TH_OK;
  }
  double quantity = 0;
};

struct Result {
  std::string name;
  double median_ns;
  double min_ns;
};

// ns per call: median and best of `rounds` rounds of `calls` calls each.
Result measure(const std::string &name, long calls, const std::function<th_status(long)> &one_round) {
  std::vector<double> per_call;
  one_round(calls / 10); // warm-up
  for (int r = 0; r < rounds; ++r) {
    auto start = std::chrono::steady_clock::now();
    th_status status = one_round(calls);
    auto elapsed = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    if (status != TH_OK) {
      std::fprintf(stderr, "%s: call failed with status %d\n", name.c_str(), status);
      std::exit(1);
    }
    per_call.push_back(elapsed / static_cast<double>(calls));
  }
  std::sort(per_call.begin(), per_call.end());
  return {name, per_call[per_call.size() / 2], per_call.front()};
}

std::shared_ptr<th::PluginLibrary> load(const char *path) {
  th::LoadRefusal refusal;
  auto library = th::load_plugin_library(path, &refusal);
  if (!library) {
    std::fprintf(stderr, "%s\n", refusal.reason.c_str());
    std::exit(1);
  }
  return library;
}

} // namespace

int main(int argc, char **argv) {
  const long calls = argc > 1 ? std::atol(argv[1]) : 2'000'000;
  th::Signal signal;
  signal.corr_id = "bench_0123456789abcdef";
  signal.instrument = "AAPL";
  signal.action = TH_SIGNAL_BUY;
  signal.strength = 0.75;
  signal.price = 187.5;
  signal.timestamp_ns = 1736937001250000000;
  signal.source = "test";
  signal.extra_json = R"({"metadata":{"k":1}})";
  const th_signal view = th::view_of(signal);

  BenchServices services;
  auto serialised = load(BENCH_PLUGIN_SERIALISED);
  auto thread_safe = load(BENCH_PLUGIN_THREAD_SAFE);
  auto emitting = load(BENCH_PLUGIN_EMITTING);
  auto plugin = th::PluginInstance::create(serialised, {"bench", "", "", 0}, "{}", services);
  auto unlocked = th::PluginInstance::create(thread_safe, {"bench_ts", "", "", 0}, "{}", services);
  auto emitter = th::PluginInstance::create(emitting, {"bench_emit", "", "", 0}, "{}", services);

  // The raw descriptor path: the plugin's own function pointer, no host wrapper.
  const th_plugin_descriptor &d = serialised->descriptor();
  th_host_api api{};
  api.struct_size = sizeof api;
  th_status status = TH_OK;
  th_instance *raw = d.create(&api, nullptr, th_str{"{}", 2}, &status);

  auto direct = bench::make_direct_strategy(false);
  auto direct_emit = bench::make_direct_strategy(true);

  std::vector<Result> results;
  auto loop = [](auto &&call) {
    return [call](long n) {
      th_status s = TH_OK;
      for (long i = 0; i < n; ++i)
        s |= call();
      return s;
    };
  };
  results.push_back(measure("direct C++ virtual call", calls, loop([&] { return direct->on_signal(view); })));
  results.push_back(
      measure("raw descriptor pointer (C ABI)", calls, loop([&] { return d.on_signal(raw, &view); })));
  results.push_back(measure("PluginInstance, th_signal, thread-safe plugin (no lock)", calls,
                            loop([&] { return unlocked->on_signal(view); })));
  results.push_back(
      measure("PluginInstance, th_signal (mutex)", calls, loop([&] { return plugin->on_signal(view); })));
  results.push_back(measure("PluginInstance, host Signal (view_of + mutex)", calls,
                            loop([&] { return plugin->on_signal(signal); })));
  results.push_back(measure("direct C++ + virtual emit of an intent", calls,
                            loop([&] { return direct_emit->on_signal(view); })));
  results.push_back(measure("PluginInstance, Signal + emit_order_intent via host API", calls,
                            loop([&] { return emitter->on_signal(signal); })));
  d.destroy(raw);

  const double base = results[0].median_ns;
  const double emit_base = results[5].median_ns;
  std::printf("bench_abi: %ld calls x %d rounds per case (median / best ns per call)\n\n", calls, rounds);
  std::printf("%-58s %10s %10s %14s\n", "case", "median ns", "best ns", "vs direct ns");
  for (size_t i = 0; i < results.size(); ++i) {
    const Result &r = results[i];
    const double reference = i >= 5 ? emit_base : base;
    std::printf("%-58s %10.2f %10.2f %+14.2f\n", r.name.c_str(), r.median_ns, r.min_ns,
                r.median_ns - reference);
  }
  std::printf(
      "\nABI overhead per call (PluginInstance with host Signal vs direct): %.2f ns (target < 50 ns)\n",
      results[4].median_ns - base);
  return 0;
}
