// The long-running part of `tradehost run`: pipeline, gateway and admin endpoints for the
// process's roles, until a termination signal in `signals` arrives.
#pragma once

#include "cli/runtime.hpp"

#include <csignal>

namespace th::cli {

// Returns the exit code: 0 after a clean shutdown, 1 when start-up failed.
int serve(Runtime &runtime, unsigned roles, const sigset_t &signals);

} // namespace th::cli
