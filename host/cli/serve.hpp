// The long-running part of `tradehost run`: pipeline, gateway and admin endpoints for the
// process's roles, until a termination signal in `signals` arrives.
#pragma once

#include "cli/runtime.hpp"

#include <csignal>
#include <string>

namespace th::cli {

// Returns the exit code: 0 after a clean shutdown, 1 when start-up failed.
// `listen`, when not empty, replaces the HTTP address.
int serve(Runtime &runtime, unsigned roles, const sigset_t &signals, const std::string &listen);

} // namespace th::cli
