// Agents: each normalized signal goes to every agent whose instrument filter matches. An
// agent's order intents pass the risk chain; approved ones are published on
// decisions.order_intent, rejected ones on decisions.rejected.
#pragma once

#include "loader/plugin_instance.hpp"
#include "pipeline/instrument_filter.hpp"
#include "pipeline/risk_chain.hpp"
#include "pipeline/stage_services.hpp"

#include <atomic>
#include <memory>
#include <vector>

namespace th {

class AgentStage : public StageServices {
public:
  AgentStage(StageContext ctx, RiskChain &risk) : StageServices(ctx), risk_(risk) {}

  void add_agent(std::unique_ptr<PluginInstance> agent, InstrumentFilter filter);
  const std::vector<std::unique_ptr<PluginInstance>> &instances() const { return instances_; }

  // Bus handler for signals.normalized.
  void on_signal(const Signal &signal);

  th_status emit_order_intent(const InstanceContext &, const th_order_intent &) override;

  uint64_t intents() const { return intents_; }
  uint64_t rejections() const { return rejections_; }

private:
  struct Agent {
    PluginInstance *instance;
    InstrumentFilter filter;
    prometheus::Histogram *latency;
  };
  RiskChain &risk_;
  std::vector<std::unique_ptr<PluginInstance>> instances_;
  std::vector<Agent> agents_;
  std::atomic<uint64_t> intents_{0}, rejections_{0};
};

} // namespace th
