// bench_hot_reload: how long from renaming a new plugin build into the watched directory to the
// first signal it handles, and how long signal processing pauses while agents are swapped.
// A producer publishes a signal every 50 us; the counter strategy (tests/hot_reload) answers
// each with an intent naming its version. Repeated swaps v1 -> v2 -> v1 ...
//
//   bench_hot_reload [swaps=20]
#include "bus/embedded_bus.hpp"
#include "observability/log.hpp"
#include "pipeline/hot_reload.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

} // namespace

int main(int argc, char **argv) {
  int swaps = argc > 1 ? std::atoi(argv[1]) : 20;
  th::log::set_level(th::log::Level::error);
  char pattern[] = "/tmp/tradehost-bench-hot-XXXXXX";
  std::string root = ::mkdtemp(pattern), plugins = root + "/plugins";
  fs::create_directories(plugins);
  fs::copy_file(std::string(COUNTER_DIR) + "/counter_v1.so", plugins + "/counter.so");
  std::ofstream(root + "/d.yaml") << "version: 1\nplugin_dirs: [" << plugins << "]\ndata_dir: " << root
                                  << "\nagents:\n  - id: counter\n    strategy: {plugin: counter}\n";
  th::Deployment deployment = th::load_deployment(root + "/d.yaml");
  th::PluginRegistry registry;
  registry.set_load_options(th::load_options_for(deployment));
  registry.scan(deployment.plugin_dirs);
  th::Metrics metrics;
  th::Portfolio portfolio;
  th::Clock clock;
  auto bus = th::make_embedded_bus({4096});
  th::StageContext ctx{*bus, metrics, portfolio, clock};
  th::Pipeline pipeline(deployment, registry, ctx);
  pipeline.build(th::role_agent);

  // The time each intent was handled, and which build handled it.
  std::mutex mutex;
  std::string current = "counter@1.0.0";
  Clock::time_point switched_at{}, last_intent = Clock::now();
  std::vector<double> gaps_during_swap, normal_gaps;
  std::atomic<bool> awaiting{false};
  Clock::time_point renamed_at{};
  std::vector<double> rename_to_first;
  bus->subscribe({"bench", {th::Subject::decisions_order_intent}}, [&](const th::Delivery &d) {
    auto now = Clock::now();
    const auto &i = std::get<th::OrderIntent>(d.message.payload);
    std::lock_guard lock(mutex);
    double gap = std::chrono::duration<double, std::micro>(now - last_intent).count();
    last_intent = now;
    if (i.strategy != current) {
      current = i.strategy;
      gaps_during_swap.push_back(gap);
      if (awaiting.exchange(false))
        rename_to_first.push_back(std::chrono::duration<double, std::milli>(now - renamed_at).count());
    } else {
      normal_gaps.push_back(gap);
    }
  });
  pipeline.start();
  bus->start();
  th::HotReload reload(deployment, registry, pipeline, ctx, "host_bench");
  reload.start();

  std::atomic<bool> stop{false};
  std::thread producer([&] {
    auto next = Clock::now();
    for (uint64_t n = 0; !stop; ++n) {
      th::Signal s;
      s.corr_id = "bench_" + std::to_string(10000000 + n);
      s.instrument = "AAPL";
      s.action = TH_SIGNAL_BUY;
      s.strength = 1;
      s.price = 100.0;
      s.timestamp_ns = 1;
      bus->publish(th::Message{th::Subject::signals_normalized, std::move(s), {}});
      next += std::chrono::microseconds(50);
      std::this_thread::sleep_until(next);
    }
  });
  for (int k = 0; k < swaps; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::string variant = k % 2 == 0 ? "v2" : "v1";
    fs::copy_file(std::string(COUNTER_DIR) + "/counter_" + variant + ".so", root + "/staging.so",
                  fs::copy_options::overwrite_existing);
    {
      std::lock_guard lock(mutex);
      renamed_at = Clock::now();
    }
    awaiting = true;
    fs::rename(root + "/staging.so", plugins + "/counter.so");
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (awaiting && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop = true;
  producer.join();
  reload.stop_watching();
  bus->wait_idle(std::chrono::seconds(10));
  pipeline.stop();
  bus->stop();

  std::lock_guard lock(mutex);
  std::printf("\nhot reload, %zu swaps, a signal every 50 us\n", rename_to_first.size());
  std::printf("%-44s %10s %10s %10s\n", "measure", "p50", "p99", "max");
  std::printf("%-44s %10.2f %10.2f %10.2f\n", "rename -> first event by new build (ms)",
              percentile(rename_to_first, 0.5), percentile(rename_to_first, 0.99),
              percentile(rename_to_first, 1.0));
  std::printf("%-44s %10.1f %10.1f %10.1f\n", "gap between intents across a swap (us)",
              percentile(gaps_during_swap, 0.5), percentile(gaps_during_swap, 0.99),
              percentile(gaps_during_swap, 1.0));
  std::printf("%-44s %10.1f %10.1f %10.1f\n", "gap between intents otherwise (us)",
              percentile(normal_gaps, 0.5), percentile(normal_gaps, 0.99), percentile(normal_gaps, 1.0));
  fs::remove_all(root);
  return rename_to_first.size() == static_cast<size_t>(swaps) ? 0 : 1;
}
