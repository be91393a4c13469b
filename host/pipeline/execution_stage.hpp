// Executors: approved order intents go to the deployment's first executor (the others stand
// by); every executor with on_signal sees the signals, its price feed. Fills the executor
// emits are published on executions.fill.
#pragma once

#include "loader/plugin_instance.hpp"
#include "pipeline/stage_services.hpp"

#include <atomic>
#include <memory>
#include <vector>

namespace th {

class ExecutionStage : public StageServices {
public:
  using StageServices::StageServices;

  void add_executor(std::unique_ptr<PluginInstance> executor) { executors_.push_back(std::move(executor)); }
  const std::vector<std::unique_ptr<PluginInstance>> &instances() const { return executors_; }

  // Bus handler for signals.normalized and decisions.order_intent.
  void handle(const Message &message);

  th_status emit_fill(const InstanceContext &, const th_fill &) override;
  th_status emit_reconcile(const InstanceContext &, const th_reconcile &) override;

  uint64_t fills() const { return fills_; }

private:
  void on_intent(const OrderIntent &intent);
  std::vector<std::unique_ptr<PluginInstance>> executors_;
  std::atomic<uint64_t> fills_{0};
};

} // namespace th
