// The pipeline wired from a deployment: creates the plugin instances for this process's roles
// and subscribes each stage to the bus under the contract's durable names:
//   agents    <- signals.normalized                       (mcp-signals)
//   executors <- signals.normalized + decisions.order_intent (exec-intents)
//   portfolio <- executions.fill                          (portfolio)
//   audit     <- every subject                            (audit-all)
#pragma once

#include "config/deployment.hpp"
#include "loader/instance_check.hpp"
#include "loader/plugin_registry.hpp"
#include "pipeline/agent_stage.hpp"
#include "pipeline/audit_stage.hpp"
#include "pipeline/execution_stage.hpp"
#include "pipeline/portfolio_stage.hpp"
#include "pipeline/risk_chain.hpp"
#include "pipeline/roles.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace th {

class Pipeline {
public:
  Pipeline(const Deployment &deployment, const PluginRegistry &registry, StageContext ctx);
  ~Pipeline();

  // Creates instances for the roles and subscribes the stages (before bus.start()). Risk
  // checks, executors and audit sinks are mandatory (fail closed): each one that cannot be
  // created is returned, naming the instance, its place in the deployment and the reason, and
  // the caller must not run (exit 2). An agent whose strategy plugin is not loaded waits for it
  // (state "waiting"; hot reload starts it when the plugin arrives); an agent whose create()
  // fails is logged and left out (state "failed").
  std::vector<ConfigError> build(unsigned roles);

  // Live changes (hot reload, config reload). Each returns "" on success or the problem; on
  // failure nothing changed. `library` overrides the registry's choice for the agent's plugin.
  std::string start_agent(const AgentConfig &agent, std::shared_ptr<PluginLibrary> library = nullptr);
  std::string replace_agent(const AgentConfig &agent, std::shared_ptr<PluginLibrary> library = nullptr);
  std::string stop_agent(const std::string &id);
  AgentStage &agents() { return agents_; }
  ExecutionStage &execution() { return execution_; }
  const AuditStage &audit() const { return audit_; }
  bool runs_agents() const { return (roles_ & role_agent) != 0; }

  // Recovery after a crash (app/acceptance.hpp): signals republished from the inbox whose
  // decision is already in the audit trail go past the agents once, so nothing decides them
  // again. Call before republishing them; each id is dropped when its signal went by.
  void skip_agents_for(std::unordered_set<std::string> corr_ids);

  // start() on every instance. Returns the mandatory instances whose start() failed (the
  // caller must not run); an agent whose start() fails is taken out (state "failed").
  std::vector<ConfigError> start();
  void stop(); // stop() on every instance; sinks flush. Call once the bus is idle.

  struct Stats {
    uint64_t signals = 0, intents = 0, rejections = 0, fills = 0, reconciles = 0;
  };
  Stats stats() const;

  // Every instance, for `plugins`-style listings and health.
  std::vector<const PluginInstance *> instances() const;

  // Each configured (and auto) agent of this process: running, waiting (its strategy plugin is
  // not loaded yet) or failed (create or start failed; reason says why). For /healthz.
  struct AgentState {
    std::string id, plugin, state, reason;
  };
  std::vector<AgentState> agent_states() const;
  // An agent whose plugin is not loaded: it starts when the plugin arrives (hot reload).
  void mark_waiting(const AgentConfig &agent);

private:
  CreateOutcome create(const std::string &id, const PluginRef &ref, const std::string &pointer, int32_t kind,
                       HostServices &services, std::shared_ptr<PluginLibrary> library = nullptr);
  void set_agent_state(const std::string &id, const std::string &plugin, std::string state,
                       std::string reason);

  const Deployment &deployment_;
  const PluginRegistry &registry_;
  StageContext ctx_;
  RiskChain risk_;
  AgentStage agents_;
  ExecutionStage execution_;
  std::unique_ptr<PortfolioStage> portfolio_;
  AuditStage audit_;
  bool skips_agents(const std::string &corr_id);

  std::atomic<uint64_t> signals_{0}, reconciles_{0};
  std::atomic<bool> skipping_{false}; // any id in skip_ (checked without the lock per signal)
  std::mutex skip_mutex_;
  std::unordered_set<std::string> skip_;
  bool started_ = false;
  unsigned roles_ = 0;
  std::map<std::string, SourceLocation> where_; // instance id -> its entry in the deployment
  mutable std::mutex states_mutex_;
  std::map<std::string, AgentState> agent_states_;
};

} // namespace th
