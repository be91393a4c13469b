// Creating one configured instance (a risk check, executor, audit sink or an agent's strategy),
// as `run`, `replay` and `validate --deep` do, with one wording for every failure:
//   "<file>:<line>:<col>: <yaml path>: risk check 'limits' (plugin risk-limits): create failed: <why>"
// Risk checks, executors and audit sinks are mandatory (issue 13, fail closed): a process that
// cannot create or start one of them does not run. An agent whose strategy plugin is not loaded
// waits for it (hot reload starts it when the library arrives).
#pragma once

#include "config/deployment.hpp"
#include "loader/plugin_instance.hpp"
#include "loader/plugin_registry.hpp"

#include <memory>
#include <string>
#include <vector>

namespace th {

// One configured instance: its id, its plugin reference, its kind and where it is configured.
struct InstanceSpec {
  std::string id;
  const PluginRef *ref = nullptr;
  int32_t kind = 0;
  SourceLocation where; // deployment.locate(entry pointer)
};

// Every instance of the deployment, in the order the pipeline creates them: risk, agents
// (enabled ones), executors, audit sinks.
std::vector<InstanceSpec> configured_instances(const Deployment &deployment);

// "risk check", "executor", "audit sink", "agent".
const char *role_name(int32_t kind);
// "risk check 'limits' (plugin risk-limits)"
std::string describe(const InstanceSpec &spec);

struct CreateOutcome {
  std::unique_ptr<PluginInstance> instance; // null on failure
  bool plugin_missing = false;              // no library of that name is loaded
  std::string problem;                      // "<describe>: <why>" when instance is null
};

// Creates the instance from `library` (or the registry's library of the plugin's name).
CreateOutcome create_instance(const InstanceSpec &spec, const PluginRegistry &registry,
                              HostServices &services, std::shared_ptr<PluginLibrary> library = nullptr);

// The ConfigError naming the spec's location for `problem` (as returned by create_instance or
// a failed start).
ConfigError instance_error(const InstanceSpec &spec, std::string problem);

// `validate --deep`: creates every configured instance with inert host services, starts and
// stops it when `start_stop`, and destroys it. Every failure is an error, except an agent
// whose strategy plugin is missing: it is counted in `waiting` (it waits for the plugin at run
// time; validate_plugin_params reports it).
struct DeepCheck {
  std::vector<ConfigError> errors;
  size_t checked = 0; // instances created (and destroyed)
  size_t waiting = 0; // agents left out: strategy plugin not loaded
};
DeepCheck check_instances(const Deployment &deployment, const PluginRegistry &registry, bool start_stop);

} // namespace th
