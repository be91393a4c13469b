// Durable acceptance on the embedded bus: what makes a gateway 200 mean "written where a
// restart finds it" (docs/guarantees.md).
//
//  - The gateway publishes through an InboxBus: each signal is appended to the inbox in the
//    data directory (group commit) before it is published and answered.
//  - At start-up, before the gateway listens, recover() reads what an earlier process left in
//    the inbox and looks each signal up in the audit trail: a signal with no decision there is
//    published again with its corr_id (the sinks skip the rows they already hold: event ids are
//    the same); a decided one goes past the agents (never decided twice) and its approved
//    intents that have no fill in the trail go to the execution stage again, with their message
//    ids; its order store (data_dir/orders.journal) hands each order to the executor at most once.
//  - A retirer thread deletes inbox segments once everything their signals caused is in the
//    trail: it seals a segment, waits until the bus has settled everything published before
//    (Bus::wait_settled), then waits until the trail holds a signal accepted after that instant
//    (the sink commits in order, so all earlier rows are committed too). A clean stop retires
//    everything once the sinks have flushed.
#pragma once

#include "bus/bus.hpp"
#include "bus/file_key_value.hpp"
#include "bus/inbox.hpp"
#include "bus/inbox_bus.hpp"
#include "config/deployment.hpp"
#include "pipeline/pipeline.hpp"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace th::app {

struct AcceptanceOptions {
  InboxOptions inbox;
  std::vector<std::string> trails;             // audit-sqlite databases; the first one is read at recovery
  std::chrono::milliseconds segment_age{1000}; // a segment with lines is sealed after this long
};

class DurableAcceptance {
public:
  DurableAcceptance(Bus &bus, Pipeline &pipeline, AcceptanceOptions options);
  ~DurableAcceptance();

  Bus &gateway_bus() { return inbox_bus_; }

  struct Recovery {
    size_t entries = 0, cancelled = 0, republished = 0, already_decided = 0, intents_resent = 0;
  };
  // After the pipeline and the bus started, before the gateway: see the file comment.
  Recovery recover();

  void start_retiring();
  void stop_retiring();
  // After a clean stop (gateway stopped, bus drained, sinks stopped): retires every segment
  // when the trail holds the last signal handed over.
  void close_after_clean_stop();

private:
  void retire_loop();
  bool trails_hold(const std::string &corr_id);

  Bus &bus_;
  Pipeline &pipeline_;
  AcceptanceOptions options_;
  Inbox inbox_;
  InboxBus inbox_bus_;
  std::string last_recovered_; // corr_id of the last signal recover() published
  // The execution stage's order store (data_dir/orders.journal); cleared after a clean stop.
  std::shared_ptr<FileKeyValue> orders_;
  friend std::unique_ptr<DurableAcceptance> make_acceptance(const Deployment &, unsigned, Bus &, Pipeline &);
  bool recovered_ = false;

  struct Settled {
    uint64_t segment = 0;
    uint64_t after_seq = 0; // a signal appended at or after this seq proves the segment committed
  };
  std::vector<Settled> settled_; // retirer thread only
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// The deployment's durable acceptance, or nullptr when this process has no gateway or does not
// run the embedded bus (JetStream: the stream is the durable record). Throws
// std::runtime_error when the inbox directory cannot be used.
std::unique_ptr<DurableAcceptance> make_acceptance(const Deployment &deployment, unsigned roles, Bus &bus,
                                                   Pipeline &pipeline);

} // namespace th::app
