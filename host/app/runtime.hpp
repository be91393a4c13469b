// What `run` and `replay` share: a deployment loaded and checked, its plugins scanned, and the
// process-wide parts (metrics, portfolio, clock, bus) the pipeline is wired onto.
#pragma once

#include "bus/bus.hpp"
#include "config/deployment.hpp"
#include "loader/plugin_registry.hpp"
#include "observability/metrics.hpp"
#include "pipeline/clock.hpp"
#include "pipeline/pipeline.hpp"
#include "portfolio/portfolio.hpp"

#include <memory>
#include <string>

namespace th::app {

struct Runtime {
  Deployment deployment;
  PluginRegistry registry;
  Metrics metrics;
  Portfolio portfolio;
  TradingState trading; // the operator's switch (pipeline/trading_state.hpp)
  Clock clock;
  std::unique_ptr<Bus> bus;
  std::unique_ptr<Pipeline> pipeline;
  std::string host_corr_id; // corr_id of the process's own audit events (config_loaded, plugin_loaded)

  StageContext stage_context() { return {*bus, metrics, portfolio, clock, &trading}; }
  // Publishes config_loaded and one plugin_loaded per library on audit.event.
  void audit_startup();
  // Rebuilds the portfolio from its record in data_dir/portfolio and keeps recording fills
  // there: fills.jsonl for a process with the exec role (the portfolio of record),
  // agent-mirror.jsonl for an agent-only process (its mirror of the same fills); nothing for
  // other roles. Throws std::runtime_error when the record cannot be opened (docs/guarantees.md).
  void open_portfolio_record(unsigned roles);
  // Restores the trading state from data_dir/trading_state.json (throws when that file is
  // damaged), sets the gauge, and wires its changes: a log line, a `trading_state_changed`
  // audit event, the gauge, and for the exec role the executors' cancel_all when halted.
  void open_trading_state(unsigned roles);
  // Sets the scrape-time gauges: position and PnL per agent and instrument, consumer lag.
  void collect_metrics();
};

// Which bus a command runs on: the deployment's, or an in-process one whatever it says.
enum class BusChoice {
  deployment, // bus.kind: embedded or jetstream
  embedded,   // the threaded embedded bus
  sequential, // the deterministic single-threaded bus (replays)
};

// Loads the deployment, applies its logging settings, scans plugins, validates plugin params
// and creates the bus. Prints every problem to stderr; returns nullptr when the deployment is
// invalid (exit code 2).
std::unique_ptr<Runtime> load_runtime(const std::string &config_path, BusChoice bus);

} // namespace th::app
