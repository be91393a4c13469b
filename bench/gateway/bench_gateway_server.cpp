// The gateway as a deployment runs it, for run.sh: the embedded bus with a subscriber that keeps
// up (counting signals, as an agent's queue would; the audit stage reads the same subject), source "test"
// with hmac auth, replay and validation as configured by default, rate limit out of the way.
// Prints "port N" once listening; runs until stdin closes; prints what it published.
// Third argument, the inbox a deployment writes before each 200 (bus.inbox): "write" (the
// default deployment: group-committed write()), "fsync" (bus.inbox.fsync: true) or "off" (no
// inbox: what a 200 cost before acceptance was durable), in a temporary directory.
#include "bus/embedded_bus.hpp"
#include "bus/inbox.hpp"
#include "bus/inbox_bus.hpp"
#include "gateway/gateway.hpp"
#include "observability/log.hpp"

#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

int main(int argc, char **argv) {
  // "auto": the deployment default (half the cores).
  std::string threads = argc > 1 ? argv[1] : "auto";
  std::string secret = argc > 2 ? argv[2] : "bench-secret";
  std::string inbox_mode = argc > 3 ? argv[3] : "write";
  th::log::set_level(th::log::Level::warn);
  auto bus = th::make_embedded_bus();
  std::atomic<uint64_t> signals{0};
  bus->subscribe({"mcp-signals", {th::Subject::signals_normalized}},
                 [&](const th::Delivery &) { ++signals; });
  bus->start();
  th::Metrics metrics;
  nlohmann::json section = {
      {"listen", "127.0.0.1:0"},
      {"signal_schema", std::string(TRADEHOST_SOURCE_DIR) + "/schemas/signal.schema.json"},
      {"sources",
       {{"test", {{"secrets", {secret}}, {"rate_limit", {{"rate_per_s", 1e9}, {"burst", 1e9}}}}}}}};
  if (threads != "auto")
    section["threads"] = std::stoi(threads);
  std::unique_ptr<th::Inbox> inbox;
  std::unique_ptr<th::InboxBus> inbox_bus;
  std::filesystem::path inbox_dir;
  if (inbox_mode != "off") {
    std::string pattern = (std::filesystem::temp_directory_path() / "bench-inbox-XXXXXX").string();
    inbox_dir = ::mkdtemp(pattern.data());
    inbox = std::make_unique<th::Inbox>(th::InboxOptions{inbox_dir, inbox_mode == "fsync"});
    inbox_bus = std::make_unique<th::InboxBus>(*bus, *inbox);
  }
  th::Bus &gateway_bus = inbox_bus ? static_cast<th::Bus &>(*inbox_bus) : *bus;
  th::gateway::Gateway gateway(th::gateway::parse_gateway_config(section, {}), gateway_bus, metrics);
  gateway.start();
  std::printf("port %u\n", gateway.port());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  gateway.stop();
  bus->wait_idle(std::chrono::seconds(10));
  bus->stop();
  inbox_bus.reset();
  inbox.reset();
  if (!inbox_dir.empty())
    std::filesystem::remove_all(inbox_dir);
  // CPU time of the whole process (io threads, bus delivery threads) per accepted webhook: a figure
  // less sensitive than requests/s to what else runs on the machine.
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  uint64_t published = signals.load();
  std::fprintf(stderr,
               "bench_gateway_server: inbox %s; published %llu signals; process CPU %.2f s = %.1f us "
               "per webhook (io threads, kernel TCP, bus delivery)\n",
               inbox_mode.c_str(), static_cast<unsigned long long>(published), cpu_s,
               published ? cpu_s * 1e6 / static_cast<double>(published) : 0.0);
  return 0;
}
