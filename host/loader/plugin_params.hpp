// Checks a deployment against the loaded plugins: every referenced plugin exists and has the
// right kind, and every params block validates against that plugin's params_schema. Errors
// carry the YAML location of the offending value.
#pragma once

#include "config/deployment.hpp"
#include "loader/plugin_registry.hpp"

#include <vector>

namespace th {

std::vector<ConfigError> validate_plugin_params(const Deployment &, const PluginRegistry &);

} // namespace th
