// Hot reload in one process: a real pipeline on the embedded bus, real plugin libraries dropped
// into a watched directory (inotify), swapped under load, refused, and configuration reloads.
#include "bus/embedded_bus.hpp"
#include "pipeline/hot_reload.hpp"

#include "../support/child_process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using th::test::eventually;

namespace {

std::string counter(const std::string &variant) {
  return std::string(COUNTER_DIR) + "/counter_" + variant + ".so";
}

class LiveHost {
public:
  explicit LiveHost(const std::string &extra_yaml = "", bool install_v1 = true) {
    char pattern[] = "/tmp/tradehost-hot-XXXXXX";
    root = ::mkdtemp(pattern);
    plugin_dir = root + "/plugins";
    fs::create_directories(plugin_dir);
    if (install_v1)
      fs::copy_file(counter("v1"), plugin_dir + "/counter.so");
    config = root + "/deployment.yaml";
    write_config(base_yaml() + extra_yaml);
    deployment = th::load_deployment(config);
    registry.set_load_options(th::load_options_for(deployment));
    registry.scan(deployment.plugin_dirs);
    bus = th::make_embedded_bus();
    pipeline = std::make_unique<th::Pipeline>(deployment, registry, ctx());
    pipeline->build(th::role_agent);
    bus->subscribe({"test-intents", {th::Subject::decisions_order_intent}}, [this](const th::Delivery &d) {
      auto &i = std::get<th::OrderIntent>(d.message.payload);
      std::lock_guard lock(mutex);
      if (!seen.insert(i.corr_id + "/" + i.agent_id).second)
        ++duplicates;
      ++by_strategy[i.strategy];
      ++by_agent[i.agent_id];
    });
    pipeline->start();
    bus->start();
    reload = std::make_unique<th::HotReload>(deployment, registry, *pipeline, ctx(), "host_hotreload");
    reload->start();
  }
  ~LiveHost() {
    reload->stop_watching();
    bus->wait_idle(std::chrono::seconds(30));
    pipeline->stop();
    bus->stop();
    reload.reset();
    pipeline.reset();
    fs::remove_all(root);
  }

  std::string base_yaml() const {
    return "version: 1\nplugin_dirs: [" + plugin_dir + "]\ndata_dir: " + root +
           "\nagents:\n  - id: counter\n" + "    strategy: {plugin: counter}\n";
  }
  void write_config(const std::string &yaml) const { std::ofstream(config) << yaml; }

  th::StageContext ctx() { return {*bus, metrics, portfolio, clock}; }

  // Writes the file elsewhere, then renames it into the directory (the atomic convention).
  void install(const std::string &variant) const {
    fs::copy_file(counter(variant), root + "/staging.so", fs::copy_options::overwrite_existing);
    fs::rename(root + "/staging.so", plugin_dir + "/counter.so");
  }

  void publish(int i) {
    th::Signal s;
    s.corr_id = "sig_" + std::to_string(1000000 + i);
    s.instrument = "AAPL";
    s.action = TH_SIGNAL_BUY;
    s.strength = 0.9;
    s.price = 100.0;
    s.timestamp_ns = 1736937000000000000 + i;
    ASSERT_EQ(bus->publish(th::Message{th::Subject::signals_normalized, std::move(s), {}}),
              th::PublishStatus::ok);
  }
  // The strategy that handled one fresh signal.
  std::string strategy_for_next_signal() {
    std::map<std::string, int> before;
    {
      std::lock_guard lock(mutex);
      before = by_strategy;
    }
    publish(static_cast<int>(900000 + probes++));
    bus->wait_idle(std::chrono::seconds(10));
    std::lock_guard lock(mutex);
    for (auto &[k, v] : by_strategy)
      if (v != before[k])
        return k;
    return "";
  }
  int total() {
    std::lock_guard lock(mutex);
    int n = 0;
    for (auto &[k, v] : by_strategy)
      n += v;
    return n;
  }

  std::string root, plugin_dir, config;
  th::Deployment deployment;
  th::PluginRegistry registry;
  th::Metrics metrics;
  th::Portfolio portfolio;
  th::Clock clock;
  std::unique_ptr<th::Bus> bus;
  std::unique_ptr<th::Pipeline> pipeline;
  std::unique_ptr<th::HotReload> reload;
  std::mutex mutex;
  std::set<std::string> seen;
  std::map<std::string, int> by_strategy, by_agent;
  int duplicates = 0;
  int probes = 0;
};

// Paths of the plugin copies this process has mapped from the cache directory.
std::set<std::string> mapped_counter_copies() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> paths;
  for (std::string line; std::getline(maps, line);)
    if (auto pos = line.find('/'); pos != std::string::npos && line.find("counter") != std::string::npos &&
                                   line.find("tradehost-hot") != std::string::npos)
      paths.insert(line.substr(pos));
  return paths;
}

// Sum of tradehost_plugin_events_total{event="refused"} over plugins.
double refused_count(th::Metrics &metrics) {
  std::istringstream in(metrics.serialize());
  double total = 0;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("tradehost_plugin_events_total{", 0) == 0 &&
        line.find(R"(event="refused")") != std::string::npos)
      total += std::stod(line.substr(line.rfind(' ') + 1));
  return total;
}

} // namespace

TEST(HotReload, ADroppedInStrategyStartsTheAgentWaitingForIt) {
  LiveHost host("", /*install_v1=*/false);
  EXPECT_FALSE(host.pipeline->agents().has_agent("counter"));
  host.install("v1");
  ASSERT_TRUE(eventually([&] { return host.pipeline->agents().has_agent("counter"); }));
  EXPECT_EQ(host.strategy_for_next_signal(), "counter@1.0.0");
}

TEST(HotReload, SwapUnderLoadHandlesEverySignalOnceByOneVersion) {
  LiveHost host;
  ASSERT_TRUE(host.pipeline->agents().has_agent("counter"));
  constexpr int n = 50000;
  std::thread producer([&] {
    for (int i = 0; i < n; ++i) {
      if (i == n / 5) {
        // Swap only once the old build is at work, so both versions see part of the load.
        EXPECT_TRUE(eventually([&] {
          std::lock_guard lock(host.mutex);
          return host.by_strategy["counter@1.0.0"] > 0;
        }));
        host.install("v2");
      }
      host.publish(i);
    }
  });
  producer.join();
  ASSERT_TRUE(host.bus->wait_idle(std::chrono::seconds(60)));
  // The swap may land after the last signal on a slow machine: wait for it, then count.
  ASSERT_TRUE(eventually([&] { return host.strategy_for_next_signal() == "counter@2.0.0"; }));
  std::lock_guard lock(host.mutex);
  EXPECT_EQ(host.duplicates, 0);
  EXPECT_EQ(host.by_agent["counter"], n + host.probes);
  EXPECT_GT(host.by_strategy["counter@1.0.0"], 0);
  EXPECT_EQ(host.by_strategy["counter@1.0.0"] + host.by_strategy["counter@2.0.0"], n + host.probes);
  // The old library is gone from the address space: only the new copy stays mapped.
  EXPECT_TRUE(eventually([] { return mapped_counter_copies().size() == 1; }))
      << mapped_counter_copies().size();
}

TEST(HotReload, BadNewVersionsLeaveTheOldOneRunning) {
  LiveHost host;
  ASSERT_EQ(host.strategy_for_next_signal(), "counter@1.0.0");
  for (const char *bad : {"wrong_abi", "fails"}) {
    double refused_before = refused_count(host.metrics);
    host.install(bad);
    // Refusal is asynchronous (inotify): wait until the counter says it was judged.
    EXPECT_TRUE(eventually([&] { return refused_count(host.metrics) > refused_before; })) << bad;
    EXPECT_EQ(host.strategy_for_next_signal(), "counter@1.0.0") << bad;
  }
  // A half-written file (copy in progress, then closed early) is refused too.
  double refused_before = refused_count(host.metrics);
  {
    std::ifstream in(counter("v2"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(host.plugin_dir + "/counter.so", std::ios::binary | std::ios::trunc)
        .write(bytes.data(), 4096);
  }
  EXPECT_TRUE(eventually([&] { return refused_count(host.metrics) > refused_before; }));
  EXPECT_EQ(host.strategy_for_next_signal(), "counter@1.0.0");
  // Completing the copy (a plain cp) loads it.
  fs::copy_file(counter("v2"), host.plugin_dir + "/counter.so", fs::copy_options::overwrite_existing);
  EXPECT_TRUE(eventually([&] { return host.strategy_for_next_signal() == "counter@2.0.0"; }));
}

TEST(HotReload, ConfigReloadAppliesValidChangesAndRefusesInvalidOnes) {
  LiveHost host;
  constexpr int n = 10000;
  std::thread producer([&] {
    for (int i = 0; i < n; ++i)
      host.publish(i);
  });
  host.write_config(host.base_yaml() + "  - id: second\n    strategy: {plugin: counter}\n");
  auto applied = host.reload->reload(host.config);
  EXPECT_TRUE(applied.ok);
  EXPECT_EQ(applied.changes, std::vector<std::string>{"agent second started"});

  host.write_config(host.base_yaml() + "  - id: third\n    strategy: {plugin: counter, params: []}\n");
  auto refused = host.reload->reload(host.config);
  EXPECT_FALSE(refused.ok);
  ASSERT_FALSE(refused.errors.empty());
  EXPECT_NE(refused.errors.front().find("deployment.yaml"), std::string::npos) << refused.errors.front();
  producer.join();
  ASSERT_TRUE(host.bus->wait_idle(std::chrono::seconds(60)));
  host.strategy_for_next_signal(); // one signal after the reload reaches the added agent too
  EXPECT_FALSE(host.pipeline->agents().has_agent("third"));
  std::lock_guard lock(host.mutex);
  EXPECT_EQ(host.by_agent["counter"], n + host.probes); // nothing lost while agents changed
  EXPECT_GT(host.by_agent["second"], 0);
  EXPECT_EQ(host.duplicates, 0);
}

TEST(HotReload, TheAllowlistRefusesUnlistedLibraries) {
  LiveHost host("plugin_allowlist:\n  sha256: [\"" + th::sha256_of_file(counter("v1")) + "\"]\n");
  ASSERT_EQ(host.strategy_for_next_signal(), "counter@1.0.0");
  host.install("v2"); // not listed
  EXPECT_TRUE(eventually([&] { return refused_count(host.metrics) > 0; }));
  EXPECT_EQ(host.strategy_for_next_signal(), "counter@1.0.0");
}

TEST(HotReload, RemovingALibraryStopsItsAgents) {
  LiveHost host;
  ASSERT_TRUE(host.pipeline->agents().has_agent("counter"));
  fs::remove(host.plugin_dir + "/counter.so");
  EXPECT_TRUE(eventually([&] { return !host.pipeline->agents().has_agent("counter"); }));
  EXPECT_EQ(host.strategy_for_next_signal(), ""); // nobody handles signals any more
  EXPECT_EQ(host.registry.find("counter"), nullptr);
}

TEST(HotReload, TheAllowlistAdmitsALibrarySignedWithItsKey) {
  char pattern[] = "/tmp/tradehost-keys-XXXXXX";
  std::string keys = ::mkdtemp(pattern);
  auto [kcode, kout] =
      th::test::run_command("openssl genpkey -algorithm ed25519 -out " + keys +
                            "/k.pem && openssl pkey -in " + keys + "/k.pem -pubout -out " + keys + "/k.pub");
  ASSERT_EQ(kcode, 0) << kout;
  LiveHost host("plugin_allowlist:\n  sha256: [\"" + th::sha256_of_file(counter("v1")) +
                "\"]\n  public_key: " + keys + "/k.pub\n");
  ASSERT_EQ(host.strategy_for_next_signal(), "counter@1.0.0");
  // Signed: the signature sits beside the file before the library is renamed in.
  fs::copy_file(counter("v2"), host.root + "/staging.so", fs::copy_options::overwrite_existing);
  auto [scode, sout] =
      th::test::run_command("openssl pkeyutl -sign -inkey " + keys + "/k.pem -rawin -in " + host.root +
                            "/staging.so -out " + host.plugin_dir + "/counter.so.sig");
  ASSERT_EQ(scode, 0) << sout;
  fs::rename(host.root + "/staging.so", host.plugin_dir + "/counter.so");
  EXPECT_TRUE(eventually([&] { return host.strategy_for_next_signal() == "counter@2.0.0"; }));
  fs::remove_all(keys);
}
