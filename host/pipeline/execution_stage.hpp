// Executors: approved order intents go to the deployment's first executor (the others stand
// by); every executor with on_signal sees the signals, its price feed. Fills the executor
// emits are published on executions.fill.
//
// With an order store (the bus's "orders" table on JetStream, a file in the data directory on the
// embedded deployment) an order is handed to the executor at most once, across redeliveries and
// restarts (issue 13 finding 15): its order_id is recorded as "handing_over" before the call and
// as "handed_over" with the fills the executor emitted during the call after it. An intent whose
// order is recorded is not handed over again: a handed_over order's fills are published again
// (at least once: their first publish may have failed), a handing_over one is in doubt (the
// process stopped inside the call) and is logged and audited as order_in_doubt, never resent,
// unless this process wrote that record itself and knows it never made the call (the write's
// answer was lost in an outage: a handing_over record names the attempt that wrote it).
#pragma once

#include "loader/plugin_instance.hpp"
#include "pipeline/stage_services.hpp"

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace th {

std::string process_attempt_prefix(); // random, one per stage: tells this process's attempts apart

class ExecutionStage : public StageServices {
public:
  using StageServices::StageServices;

  void add_executor(std::unique_ptr<PluginInstance> executor) { executors_.push_back(std::move(executor)); }
  const std::vector<std::unique_ptr<PluginInstance>> &instances() const { return executors_; }

  // Bus handler for signals.normalized and decisions.order_intent. Throws when the order store
  // cannot record a hand-over (nothing was handed over; the bus delivers the intent again).
  void handle(const Delivery &delivery);
  void handle(const Message &message);

  // The order store to use instead of the bus's (the embedded deployment's file). Before start.
  void set_order_store(std::shared_ptr<KeyValue> store) { orders_ = std::move(store); }
  uint64_t orders_in_doubt() const { return in_doubt_; }

  th_status emit_fill(const InstanceContext &, const th_fill &) override;
  th_status emit_reconcile(const InstanceContext &, const th_reconcile &) override;

  uint64_t fills() const { return fills_; }

  // Trading halted: every executor with cancel_all (ABI 1.1) cancels its working orders, each
  // cancel recorded by the executor. Returns the ids of executors that could not (no
  // cancel_all, or it failed), each logged.
  std::vector<std::string> cancel_all();

private:
  void on_intent(const OrderIntent &intent);
  // The answer to the hand-over record's write: hands the order over, resumes it, or throws.
  void recorded(const OrderIntent &intent, const std::string &record, KeyValue::Result result);
  void hand_over(const OrderIntent &intent); // calls the executor and records the outcome
  KeyValue *order_store();
  void publish_sent(const OrderIntent &intent, const std::string &executor_id);
  void resume(const OrderIntent &intent, const std::string &record, const std::string &executor_id);
  std::string handing_over(); // a new "handing_over" record, naming a new attempt
  bool unsent_here(const std::string &order_id, const std::string &record);
  std::vector<std::unique_ptr<PluginInstance>> executors_;
  std::atomic<uint64_t> fills_{0}, in_doubt_{0};
  std::once_flag orders_once_;
  std::shared_ptr<KeyValue> orders_;
  // Records of the orders this process handed over lately, by order_id: a redelivery in this
  // process resumes from them even when the store could not be written (a NATS outage).
  std::mutex recent_mutex_;
  std::unordered_map<std::string, std::string> recent_;
  std::deque<std::string> recent_order_;
  // Hand-over records whose writing failed without an answer (stored or not: unknown), by
  // order_id, with the attempt they name: never handed over, so a redelivery that finds that
  // very record hands the order over instead of calling it in doubt.
  std::unordered_map<std::string, std::string> unsent_;
  const std::string attempt_prefix_ = process_attempt_prefix();
  std::atomic<uint64_t> attempts_{0};
};

} // namespace th
