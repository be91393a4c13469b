// The order a process runs its pipeline in, one place for `tradehost run` (Service) and
// `tradehost replay`: build the roles' instances (fail closed), start the plugins, then the bus,
// then publish the start-up audit events; at the end drain the bus, stop the plugins (sinks
// flush), stop the bus. What a command adds around it (a gateway, an inbox, its own
// subscriptions) goes before start() or into stop()'s hook.
#pragma once

#include "app/runtime.hpp"

#include <chrono>
#include <functional>

namespace th::app {

class Lifecycle {
public:
  Lifecycle(Runtime &runtime, unsigned roles) : rt_(runtime), roles_(roles) {}

  // Creates every risk check, executor, agent and audit sink the roles run. Throws ConfigErrors
  // when one cannot be created: nothing runs without them.
  void build();
  // Starts the plugins (throws ConfigErrors when one cannot start), cancels open orders when the
  // trading state was restored halted (exec role), starts the bus (which may throw, e.g.
  // BusStartCancelled) and publishes config_loaded and plugin_loaded on audit.event.
  void start();
  bool bus_started() const { return bus_started_; }
  // Drains the bus for up to `drain` (when it started), stops the plugins, runs
  // `before_bus_stop`, then stops the bus (when its start was attempted). Returns whether the
  // bus drained; a bus that never started counts as drained.
  bool stop(std::chrono::milliseconds drain, const std::function<void()> &before_bus_stop = {});

private:
  Runtime &rt_;
  unsigned roles_;
  bool bus_starting_ = false, bus_started_ = false;
};

} // namespace th::app
