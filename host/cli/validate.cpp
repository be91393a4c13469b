// `tradehost validate -c FILE [--deep] [--json]`: loads a deployment (YAML, ${VAR}, schema, cross-field
// rules), loads its plugin_dirs and checks every plugin reference and params block. Starts nothing;
// with --deep it also creates, starts, stops and destroys every instance (loader/instance_check).
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "config/deployment.hpp"
#include "loader/instance_check.hpp"
#include "loader/plugin_allowlist.hpp"
#include "loader/plugin_params.hpp"
#include "loader/plugin_registry.hpp"
#include "observability/log.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <optional>

namespace th::cli {

namespace {

const char *const validate_usage = R"(Usage: tradehost validate -c FILE [--deep] [--json]

Checks a deployment without starting it: YAML syntax, ${VAR} expansion, the deployment schema,
unique ids, and every plugin's params against that plugin's schema (plugins are loaded from
plugin_dirs but not started). An agent whose strategy plugin is not loaded is a warning: at
run time it waits for the plugin (state waiting) and starts when it arrives. A risk check,
executor or audit sink must name a loaded plugin.

Options:
  -c, --config FILE   the deployment YAML
      --deep          also create, start, stop and destroy every risk check, executor, audit
                      sink and agent, as `run` would (opens what the plugins open: e.g. the
                      audit database and its signing key); one that fails is an error, as it
                      would stop `run` (exit 2)
      --json          print the result as one JSON object on stdout
  -h, --help          this help

Errors are printed on stderr as FILE:LINE:COL: YAML.PATH: message.
Exit codes: 0 valid, 2 invalid (or a usage error), 1 when the check itself could not run.
)";

nlohmann::json error_json(const ConfigError &e) {
  return {{"file", e.where.file},
          {"line", e.where.line},
          {"column", e.where.column},
          {"path", e.where.yaml_path},
          {"message", e.message}};
}

std::string refusal_text(const LoadRefusal &r) {
  std::string path = r.path.string();
  return r.reason.find(path) != std::string::npos ? r.reason : path + ": " + r.reason;
}

struct Outcome {
  std::string file;
  std::vector<ConfigError> errors;
  std::vector<std::string> warnings;
  const Deployment *deployment = nullptr;
  size_t plugins_loaded = 0;
  bool deep = false;
  DeepCheck deep_check;
};

int report(const Outcome &o, bool as_json) {
  bool valid = o.errors.empty();
  if (as_json) {
    nlohmann::json out = {
        {"file", o.file}, {"valid", valid}, {"errors", nlohmann::json::array()}, {"warnings", o.warnings}};
    for (auto &e : o.errors)
      out["errors"].push_back(error_json(e));
    if (valid && o.deployment)
      out["summary"] = {{"agents", o.deployment->agents.size()},
                        {"risk", o.deployment->risk.size()},
                        {"executors", o.deployment->executors.size()},
                        {"audit", o.deployment->audit.size()},
                        {"plugins_loaded", o.plugins_loaded}};
    if (o.deep)
      out["deep"] = {{"instances_checked", o.deep_check.checked}, {"agents_waiting", o.deep_check.waiting}};
    std::cout << out.dump(2) << "\n";
  } else {
    for (auto &w : o.warnings)
      std::fprintf(stderr, "warning: %s\n", w.c_str());
    for (auto &e : o.errors)
      std::fprintf(stderr, "%s\n", e.to_string().c_str());
    if (valid && o.deployment) {
      std::printf(
          "%s: valid (%zu agents, %zu risk checks, %zu executors, %zu audit sinks; %zu plugins loaded)\n",
          o.file.c_str(), o.deployment->agents.size(), o.deployment->risk.size(),
          o.deployment->executors.size(), o.deployment->audit.size(), o.plugins_loaded);
      if (o.deep)
        std::printf("deep: %zu instances created, started, stopped and destroyed\n", o.deep_check.checked);
    } else
      std::fprintf(stderr, "%s: invalid (%zu error%s)\n", o.file.c_str(), o.errors.size(),
                   o.errors.size() == 1 ? "" : "s");
  }
  return valid ? 0 : 2;
}

} // namespace

int validate_command(const Args &args) {
  ParsedArgs parsed;
  try {
    parsed = parse_args(args, {{"--config", "-c", true}, {"--deep", "", false}, {"--json", "", false}});
    if (parsed.has("--help")) {
      std::fputs(validate_usage, stdout);
      return 0;
    }
    if (!parsed.value("--config"))
      throw UsageError("missing -c FILE");
    if (!parsed.positional.empty())
      throw UsageError("unexpected argument " + parsed.positional.front());
  } catch (const UsageError &e) {
    std::fprintf(stderr, "tradehost validate: %s\n\n%s", e.what(), validate_usage);
    return 2;
  }

  Outcome outcome;
  outcome.file = *parsed.value("--config");
  bool as_json = parsed.has("--json");
  // This command reports for itself; the loader's per-plugin log lines would only repeat it.
  log::set_level(log::Level::error);
  try {
    Deployment deployment = load_deployment(outcome.file);
    PluginRegistry registry;
    // Libraries the allowlist does not admit are never mapped (their code would run at load).
    std::optional<TemporaryPluginCache> cache;
    if (plugin_allowlist(deployment).enabled()) {
      cache.emplace();
      registry.set_load_options(load_options_for(deployment, cache->path()));
    }
    registry.scan(deployment.plugin_dirs);
    for (auto &refusal : registry.refusals())
      outcome.warnings.push_back(refusal_text(refusal));
    std::vector<ConfigError> waiting; // agents whose strategy plugin is missing: they wait, a warning
    outcome.errors = validate_plugin_params(deployment, registry, &waiting);
    for (auto &w : waiting)
      outcome.warnings.push_back(w.to_string());
    outcome.plugins_loaded = registry.libraries().size();
    outcome.deep = parsed.has("--deep");
    if (outcome.deep && outcome.errors.empty()) {
      outcome.deep_check = check_instances(deployment, registry, true);
      outcome.errors = outcome.deep_check.errors;
    }
    outcome.deployment = &deployment;
    return report(outcome, as_json);
  } catch (const ConfigErrors &e) {
    outcome.errors = e.errors();
    return report(outcome, as_json);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "tradehost validate: %s\n", e.what());
    return 1;
  }
}

} // namespace th::cli
