// The library's single exported entry point.
#include "params.hpp"
#include "simulator.hpp"

TRADEHOST_PLUGIN(exec_sim::Simulator, TH_KIND_EXECUTOR, "exec-sim", "1.0.0",
                 "Execution simulator: fills order intents against the last signal price (slippage, latency, "
                 "partial fills, limit/stop orders, fees, protective stops)",
                 exec_sim::params_schema)
