#include "loader/instance_check.hpp"

#include <string_view>

namespace th {

const char *role_name(int32_t kind) {
  switch (kind) {
  case TH_KIND_RISK:
    return "risk check";
  case TH_KIND_EXECUTOR:
    return "executor";
  case TH_KIND_AUDIT_SINK:
    return "audit sink";
  case TH_KIND_STRATEGY:
    return "agent";
  default:
    return "instance";
  }
}

std::string describe(const InstanceSpec &spec) {
  return std::string(role_name(spec.kind)) + " '" + spec.id + "' (plugin " + spec.ref->plugin + ")";
}

std::vector<InstanceSpec> configured_instances(const Deployment &d) {
  std::vector<InstanceSpec> specs;
  auto where = [&](const std::string &pointer, const PluginRef &ref) {
    return d.locate(pointer.empty() ? ref.params_pointer : pointer);
  };
  for (const auto &r : d.risk)
    specs.push_back({r.id, &r.plugin, TH_KIND_RISK, where(r.pointer, r.plugin)});
  for (const auto &a : d.agents)
    if (a.enabled)
      specs.push_back({a.id, &a.strategy, TH_KIND_STRATEGY, where(a.pointer, a.strategy)});
  for (const auto &e : d.executors)
    specs.push_back({e.id, &e.plugin, TH_KIND_EXECUTOR, where(e.pointer, e.plugin)});
  for (const auto &s : d.audit)
    specs.push_back({s.id, &s.plugin, TH_KIND_AUDIT_SINK, where(s.pointer, s.plugin)});
  return specs;
}

CreateOutcome create_instance(const InstanceSpec &spec, const PluginRegistry &registry,
                              HostServices &services, std::shared_ptr<PluginLibrary> library) {
  CreateOutcome out;
  if (!library)
    library = registry.find(spec.ref->plugin);
  if (!library) {
    out.plugin_missing = true;
    out.problem = describe(spec) + ": plugin '" + spec.ref->plugin + "' is not loaded";
    return out;
  }
  if (library->identity().kind != spec.kind) {
    out.problem = describe(spec) + ": plugin '" + spec.ref->plugin + "' is a " +
                  std::string(kind_name(library->identity().kind)) + ", not a " +
                  std::string(kind_name(spec.kind));
    return out;
  }
  InstanceContext context{spec.id, library->identity().name, library->identity().version, spec.kind};
  try {
    const nlohmann::json params = spec.ref->params.is_null() ? nlohmann::json::object() : spec.ref->params;
    out.instance = PluginInstance::create(library, context, params.dump(), services);
  } catch (const std::exception &e) {
    // PluginError reads "plugin NAME VERSION (instance ID): create failed: WHY": keep WHY.
    std::string why = e.what();
    constexpr std::string_view marker = ": create failed: ";
    if (auto at = why.find(marker); at != std::string::npos)
      why.erase(0, at + marker.size());
    out.problem = describe(spec) + ": create failed: " + why;
  }
  return out;
}

ConfigError instance_error(const InstanceSpec &spec, std::string problem) {
  return ConfigError{spec.where, std::move(problem)};
}

DeepCheck check_instances(const Deployment &deployment, const PluginRegistry &registry, bool start_stop) {
  DeepCheck result;
  HostServices inert; // log and now_ns; emitting is refused (TH_UNSUPPORTED)
  for (const auto &spec : configured_instances(deployment)) {
    CreateOutcome created = create_instance(spec, registry, inert);
    if (!created.instance) {
      if (created.plugin_missing && spec.kind == TH_KIND_STRATEGY)
        ++result.waiting;
      else
        result.errors.push_back(instance_error(spec, created.problem));
      continue;
    }
    ++result.checked;
    if (!start_stop)
      continue;
    if (created.instance->start() != TH_OK) {
      result.errors.push_back(
          instance_error(spec, describe(spec) + ": start failed: " + created.instance->error()));
      continue;
    }
    if (created.instance->stop() != TH_OK)
      result.errors.push_back(
          instance_error(spec, describe(spec) + ": stop failed: " + created.instance->error()));
  }
  return result;
}

} // namespace th
