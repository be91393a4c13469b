// Agents: each normalized signal goes to every agent whose instrument filter matches. An
// agent's order intents pass the risk chain; approved ones are published on
// decisions.order_intent, rejected ones on decisions.rejected.
//
// Agents can be added, removed and replaced while signals flow, without pausing them: the set
// of agents is an immutable snapshot swapped atomically, and each signal is handled entirely by
// the snapshot current when it arrived — never by both an old and a new version of an agent.
#pragma once

#include "loader/plugin_instance.hpp"
#include "pipeline/audit_stage.hpp"
#include "pipeline/instrument_filter.hpp"
#include "pipeline/risk_chain.hpp"
#include "pipeline/stage_services.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace th {

class AgentStage : public StageServices {
public:
  AgentStage(StageContext ctx, RiskChain &risk);

  void add_agent(std::unique_ptr<PluginInstance> agent, InstrumentFilter filter);
  // Puts `replacement` in place of the agent with this id and returns the old instance, which
  // may still be finishing the signal in flight: hand it to retire(). nullptr when absent.
  std::shared_ptr<PluginInstance>
  replace_agent(const std::string &id, std::unique_ptr<PluginInstance> replacement, InstrumentFilter filter);
  // Takes the agent out; hand the result to retire(). nullptr when absent.
  std::shared_ptr<PluginInstance> remove_agent(const std::string &id);
  // Waits until no signal uses the instance any more, then stops and destroys it.
  static void retire(std::shared_ptr<PluginInstance> instance,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Ids of the agents whose strategy is this plugin (by descriptor name).
  std::vector<std::string> agents_using(const std::string &plugin_name) const;
  bool has_agent(const std::string &id) const;
  std::vector<std::shared_ptr<PluginInstance>> instances() const;

  // Bus handler for signals.normalized.
  void on_signal(const Signal &signal);
  // A fill for one of the agents (strategies see only their own agent's fills).
  void on_fill(const Fill &fill);

  th_status emit_order_intent(const InstanceContext &, const th_order_intent &) override;

  // Intents are rejected (rule audit_unavailable) while this stage cannot write (see audit_stage.hpp).
  void set_audit(const AuditStage *audit) { audit_ = audit; }

  uint64_t intents() const { return intents_; }
  uint64_t rejections() const { return rejections_; }

private:
  struct Agent {
    std::shared_ptr<PluginInstance> instance;
    InstrumentFilter filter;
    prometheus::Histogram *latency;
  };
  using Agents = std::vector<Agent>;
  Agent make(std::unique_ptr<PluginInstance> agent, InstrumentFilter filter);

  RiskChain &risk_;
  const AuditStage *audit_ = nullptr;
  std::array<prometheus::Counter *, 5> signals_received_{}; // by action: unknown, buy, sell, hold, close
  std::atomic<std::shared_ptr<const Agents>> agents_;
  std::mutex changes_; // serialises writers; readers never take it
  std::atomic<uint64_t> intents_{0}, rejections_{0};
};

} // namespace th
