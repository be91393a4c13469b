// The portfolio: every fill updates positions and PnL. Where this process runs the executors,
// the resulting reconcile is published on executions.fill's companion subject
// executions.reconcile; elsewhere the stage only mirrors positions for get_position().
// Plugins with on_fill see the fills (strategies only their own agent's), each fill_id once: a
// duplicate (Portfolio::record) changes nothing and reaches no plugin; its stored reconcile is
// published again under the same message id (the process that owns the portfolio only).
#pragma once

#include "loader/plugin_instance.hpp"
#include "pipeline/agent_stage.hpp"
#include "pipeline/stage_services.hpp"

#include <vector>

namespace th {

class PortfolioStage : public StageServices {
public:
  PortfolioStage(StageContext ctx, bool publish_reconciles, AgentStage *agents)
      : StageServices(ctx), publish_(publish_reconciles), agents_(agents) {}

  // A risk check (or other non-agent instance) that wants every fill.
  void add_fill_listener(PluginInstance *instance) {
    if (instance->has_on_fill())
      listeners_.push_back(instance);
  }

  // Bus handler for executions.fill.
  void on_fill(const Fill &fill);

private:
  bool publish_;
  AgentStage *agents_; // strategies get their own agent's fills
  std::vector<PluginInstance *> listeners_;
};

} // namespace th
