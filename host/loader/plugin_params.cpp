#include "loader/plugin_params.hpp"

#include "config/json_schema.hpp"

#include <map>
#include <optional>
#include <set>

namespace th {
namespace {

// "a risk", "an executor".
std::string with_article(std::string_view word) {
  const bool vowel = !word.empty() && std::string_view("aeiou").find(word[0]) != std::string_view::npos;
  return (vowel ? "an " : "a ") + std::string(word);
}

struct Checker {
  const Deployment &deployment;
  const PluginRegistry &registry;
  std::vector<ConfigError> errors;
  std::vector<ConfigError> *waiting = nullptr;
  std::map<const PluginLibrary *, std::optional<JsonSchema>> schemas; // parsed once per library

  void fail(const std::string &pointer, std::string message) {
    errors.push_back(ConfigError{deployment.locate(pointer), std::move(message)});
  }

  // `base` is the JSON pointer of the object holding `plugin` and `params`.
  void check(const PluginRef &ref, const std::string &base, int32_t kind, std::string_view role,
             bool may_wait = false) {
    const std::string plugin_pointer = base + "/plugin";
    const std::string params_pointer = ref.params_pointer.empty() ? base + "/params" : ref.params_pointer;
    auto library = registry.find(ref.plugin);
    if (!library && may_wait && waiting) {
      waiting->push_back(
          ConfigError{deployment.locate(plugin_pointer),
                      "plugin \"" + ref.plugin +
                          "\" is not loaded: the agent waits for it (state waiting) and starts "
                          "when it arrives in plugin_dirs" +
                          known_names(kind)});
      return;
    }
    if (!library) {
      fail(plugin_pointer,
           "unknown plugin \"" + ref.plugin + "\" (not found in plugin_dirs" + known_names(kind) + ")");
      return;
    }
    const PluginIdentity &id = library->identity();
    if (id.kind != kind) {
      fail(plugin_pointer, "plugin \"" + ref.plugin + "\" is " + with_article(kind_name(id.kind)) +
                               " plugin; " + std::string(role) + " needs " + with_article(kind_name(kind)) +
                               " plugin");
      return;
    }
    const nlohmann::json params = ref.params.is_null() ? nlohmann::json::object() : ref.params;
    if (!params.is_object()) {
      fail(params_pointer, "params of plugin " + id.name + " must be an object");
      return;
    }
    const JsonSchema *schema = schema_of(*library);
    if (!schema)
      return;
    for (const auto &violation : schema->validate(params))
      fail(params_pointer + violation.pointer,
           "invalid params for plugin " + id.name + " " + id.version + ": " + violation.message);
  }

  const JsonSchema *schema_of(const PluginLibrary &library) {
    auto [it, inserted] = schemas.try_emplace(&library);
    if (inserted && !library.params_schema().empty()) {
      try {
        it->second.emplace(JsonSchema::parse(library.params_schema()));
      } catch (const std::exception &) {
        // The loader refuses plugins whose schema does not parse; nothing to check against.
      }
    }
    return it->second ? &*it->second : nullptr;
  }

  // ", strategy plugins: a, b" — helps spot a typo.
  std::string known_names(int32_t kind) const {
    std::set<std::string> unique;
    for (const auto &library : registry.libraries())
      if (library->identity().kind == kind)
        unique.insert(library->identity().name);
    std::string names;
    for (const auto &name : unique)
      names += (names.empty() ? "" : ", ") + name;
    return "; " + std::string(kind_name(kind)) + " plugins: " + (names.empty() ? "none" : names);
  }
};

} // namespace

std::vector<ConfigError> validate_plugin_params(const Deployment &deployment, const PluginRegistry &registry,
                                                std::vector<ConfigError> *waiting) {
  Checker checker{deployment, registry, {}, waiting, {}};
  for (size_t i = 0; i < deployment.agents.size(); ++i) {
    const AgentConfig &agent = deployment.agents[i];
    const std::string base =
        (agent.pointer.empty() ? "/agents/" + std::to_string(i) : agent.pointer) + "/strategy";
    checker.check(agent.strategy, base, TH_KIND_STRATEGY, "an agent's strategy", agent.enabled);
  }
  auto stages = [&](const std::vector<StageConfig> &list, const char *section, int32_t kind,
                    std::string_view role) {
    for (size_t i = 0; i < list.size(); ++i) {
      const StageConfig &stage = list[i];
      const std::string base =
          stage.pointer.empty() ? std::string("/") + section + "/" + std::to_string(i) : stage.pointer;
      checker.check(stage.plugin, base, kind, role);
    }
  };
  stages(deployment.risk, "risk", TH_KIND_RISK, "a risk entry");
  stages(deployment.executors, "executors", TH_KIND_EXECUTOR, "an executor");
  stages(deployment.audit, "audit", TH_KIND_AUDIT_SINK, "an audit sink");
  return std::move(checker.errors);
}

} // namespace th
