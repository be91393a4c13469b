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
#include <optional>
#include <string>
#include <unordered_map>
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

  // Bus handler for signals.normalized; `redelivered` as the bus says (Delivery::redelivered).
  // Throws when the decision store cannot be read or written: the bus then delivers it again.
  void on_signal(const Signal &signal, bool redelivered = false);
  // A fill for one of the agents (strategies see only their own agent's fills).
  void on_fill(const Fill &fill);

  th_status emit_order_intent(const InstanceContext &, const th_order_intent &) override;

  // Intents are rejected (rule audit_unavailable) while this stage cannot write (see audit_stage.hpp),
  // and by the host's trading state before the risk chain (trading_halted, trading_reducing).
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
  // The number of an intent emitted outside on_signal() for its corr_id and agent.
  uint32_t next_unsolicited(const OrderIntent &intent);
  void dispatch(const Signal &signal);       // risk checks' and agents' on_signal
  th_status decide(const Message &decision); // publishes, or collects for on_signal()
  KeyValue *decision_store();                // the bus's "decisions" table, or nullptr
  void publish_recorded(const Signal &signal, const std::string &record);
  // The trading state's verdict on an intent: nullopt when it may go on to the risk chain.
  std::optional<Verdict> trading_verdict(const OrderIntent &intent) const;

  RiskChain &risk_;
  const AuditStage *audit_ = nullptr;
  std::array<prometheus::Counter *, 5> signals_received_{}; // by action: unknown, buy, sell, hold, close
  std::atomic<std::shared_ptr<const Agents>> agents_;
  std::mutex changes_; // serialises writers; readers never take it
  std::atomic<uint64_t> intents_{0}, rejections_{0};
  std::once_flag decisions_once_;
  std::shared_ptr<KeyValue> decisions_;
  std::mutex unsolicited_mutex_;
  std::unordered_map<std::string, uint32_t> unsolicited_;
};

// The host's ids for the n-th intent (from 1) an agent emitted for a signal: the order id
// "{corr_id}.{agent_id}.{n}" (set on the intent) and the decision's message id
// "{corr_id}:decision:{agent_id}:{n}", the same for an approval and a rejection, so a redelivered
// signal decided differently is a duplicate to the bus.
void assign_order_id(OrderIntent &intent, uint32_t n);
void decision_msg_id(const OrderIntent &intent, uint32_t n, std::string &out);

} // namespace th
