// The long-running part of `tradehost run`: pipeline, gateway and admin endpoints for the
// process's roles, until a termination signal in `signals` arrives.
#pragma once

#include "app/runtime.hpp"

#include <csignal>
#include <memory>
#include <string>

namespace th::app {

// Everything a process runs for its roles, startable and stoppable in-process (tests, benches).
class Service {
public:
  // `listen`, when not empty, replaces the HTTP address.
  Service(Runtime &runtime, unsigned roles, std::string listen = "");
  ~Service();
  // Builds the pipeline, starts plugins, bus, hot reload and the HTTP server. Throws
  // ConfigErrors for a bad gateway section, std::runtime_error when something cannot start.
  void start();
  uint16_t port() const;
  void reload(); // the SIGHUP path
  // Stops accepting, drains the bus, stops plugins (sinks flush), stops the bus. Idempotent.
  void stop();

private:
  struct State;
  void add_live_sections(); // what a reload applies without a restart
  std::unique_ptr<State> state_;
};

// Returns the exit code: 0 after a clean shutdown, 1 when start-up failed.
// `listen`, when not empty, replaces the HTTP address.
int serve(Runtime &runtime, unsigned roles, const sigset_t &signals, const std::string &listen);

} // namespace th::app
