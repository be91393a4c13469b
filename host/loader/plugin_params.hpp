// Checks a deployment against the loaded plugins: every referenced plugin exists and has the
// right kind, and every params block validates against that plugin's params_schema. Errors
// carry the YAML location of the offending value.
#pragma once

#include "config/deployment.hpp"
#include "loader/plugin_registry.hpp"

#include <vector>

namespace th {

// With `waiting`, an enabled agent whose strategy plugin is not loaded is not an error: it is
// added there (the agent waits for its plugin; hot reload starts it when the library arrives).
// Risk checks, executors and audit sinks must always name a loaded plugin.
std::vector<ConfigError> validate_plugin_params(const Deployment &, const PluginRegistry &,
                                                std::vector<ConfigError> *waiting = nullptr);

} // namespace th
