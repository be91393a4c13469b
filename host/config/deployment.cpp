// Loading a deployment: YAML -> JSON with locations and ${VAR} expansion, the JSON Schema, then
// the rules a schema cannot say (unique ids, the jetstream section). Every problem is collected
// before throwing so one run of `tradehost validate` shows them all.
#include "config/deployment.hpp"

#include "config/deployment_schema.hpp"
#include "config/json_pointer.hpp"
#include "config/json_schema.hpp"
#include "config/yaml_document.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace th {

using nlohmann::json;

SourceLocation Deployment::locate(std::string_view json_pointer) const {
  std::string at(json_pointer);
  while (true) {
    if (auto it = locations.find(at); it != locations.end()) {
      SourceLocation where = it->second;
      where.yaml_path = yaml_path_of(document, json_pointer);
      return where;
    }
    if (at.empty())
      break;
    at = parent_pointer(at);
  }
  return {file, yaml_path_of(document, json_pointer), 0, 0};
}

namespace {

// At most `limit` bytes and one more, so an oversized file is refused without reading it all.
std::string read_file(const std::filesystem::path &path, size_t limit = SIZE_MAX - 1) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error(std::strerror(errno));
  std::string text;
  char buffer[64 * 1024];
  while (text.size() <= limit && in.read(buffer, sizeof buffer).gcount() > 0)
    text.append(buffer, static_cast<size_t>(in.gcount()));
  if (text.size() > limit + 1)
    text.resize(limit + 1);
  return text;
}

const JsonSchema &deployment_schema_for(const std::filesystem::path &path,
                                        std::optional<JsonSchema> &holder) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::exception &e) {
    throw std::runtime_error("cannot read the deployment schema " + path.string() + ": " + e.what());
  }
  try {
    holder.emplace(JsonSchema::parse(text));
  } catch (const std::invalid_argument &e) {
    throw std::runtime_error("the deployment schema " + path.string() + " is broken: " + e.what());
  }
  return *holder;
}

bool at_or_below(const std::string &pointer, const std::string &ancestor) {
  return pointer == ancestor || (pointer.rfind(ancestor, 0) == 0 && pointer.size() > ancestor.size() &&
                                 pointer[ancestor.size()] == '/');
}

// Ids must be unique within one list (agents, risk, executors, audit).
void check_unique_ids(const Deployment &d, const std::string &section, const std::string &what,
                      std::vector<ConfigError> &errors) {
  auto list = d.document.find(section);
  if (list == d.document.end() || !list->is_array())
    return;
  std::map<std::string, size_t> first;
  for (size_t i = 0; i < list->size(); ++i) {
    const json &item = (*list)[i];
    if (!item.is_object() || !item.contains("id") || !item["id"].is_string())
      continue;
    std::string id = item["id"].get<std::string>();
    auto [seen, inserted] = first.emplace(id, i);
    if (inserted)
      continue;
    std::string id_pointer = "/" + section + "/" + std::to_string(i) + "/id";
    SourceLocation earlier = d.locate("/" + section + "/" + std::to_string(seen->second) + "/id");
    errors.push_back({d.locate(id_pointer), "duplicate " + what + " id '" + id + "' (first used by " +
                                                earlier.yaml_path + " at line " +
                                                std::to_string(earlier.line) + ")"});
  }
}

void check_bus(const Deployment &d, std::vector<ConfigError> &errors) {
  auto bus = d.document.find("bus");
  if (bus == d.document.end() || !bus->is_object())
    return;
  auto kind = bus->find("kind");
  if (kind != bus->end() && *kind == "jetstream" && !bus->contains("jetstream"))
    errors.push_back({d.locate("/bus/kind"), "bus kind 'jetstream' needs a bus.jetstream section"});
}

std::string string_or(const json &object, const char *key, std::string fallback) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

json object_or_empty(const json &object, const char *key) {
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : json::object();
}

std::string absolute_path(const std::string &path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

StageConfig stage_from(const json &item, const std::string &pointer) {
  StageConfig stage;
  stage.id = item.at("id").get<std::string>();
  stage.plugin.plugin = item.at("plugin").get<std::string>();
  stage.plugin.params = object_or_empty(item, "params");
  stage.plugin.params_pointer = pointer + "/params";
  stage.pointer = pointer;
  return stage;
}

std::vector<StageConfig> stages_from(const json &document, const std::string &section) {
  std::vector<StageConfig> stages;
  if (!document.contains(section))
    return stages;
  const json &list = document[section];
  for (size_t i = 0; i < list.size(); ++i)
    stages.push_back(stage_from(list[i], "/" + section + "/" + std::to_string(i)));
  return stages;
}

// Copies the validated document into the typed fields, applying the schema's defaults.
void fill(Deployment &d) {
  const json &doc = d.document;
  d.name = string_or(doc, "name", "");
  d.data_dir = absolute_path(string_or(doc, "data_dir", "./var"));
  for (const json &dir : doc.at("plugin_dirs"))
    d.plugin_dirs.push_back(absolute_path(dir.get<std::string>()));

  json bus = object_or_empty(doc, "bus");
  d.bus.kind = string_or(bus, "kind", "embedded");
  if (bus.contains("queue_capacity"))
    d.bus.queue_capacity = bus["queue_capacity"].get<size_t>();
  d.bus.jetstream = object_or_empty(bus, "jetstream");
  json inbox = object_or_empty(bus, "inbox");
  d.bus.inbox_fsync = inbox.value("fsync", false);
  d.bus.inbox_directory = absolute_path(string_or(inbox, "directory", d.data_dir + "/inbox"));

  if (doc.contains("agents")) {
    const json &agents = doc["agents"];
    for (size_t i = 0; i < agents.size(); ++i) {
      const json &item = agents[i];
      AgentConfig agent;
      agent.pointer = "/agents/" + std::to_string(i);
      agent.id = item.at("id").get<std::string>();
      agent.strategy.plugin = item.at("strategy").at("plugin").get<std::string>();
      agent.strategy.params = object_or_empty(item["strategy"], "params");
      agent.strategy.params_pointer = agent.pointer + "/strategy/params";
      if (item.contains("instruments"))
        agent.instruments = item["instruments"].get<std::vector<std::string>>();
      if (item.contains("enabled"))
        agent.enabled = item["enabled"].get<bool>();
      d.agents.push_back(std::move(agent));
    }
  }
  d.risk = stages_from(doc, "risk");
  d.executors = stages_from(doc, "executors");
  d.audit = stages_from(doc, "audit");
  d.gateway = object_or_empty(doc, "gateway");
  d.admin = object_or_empty(doc, "admin");

  json logging = object_or_empty(doc, "logging");
  d.logging.level = string_or(logging, "level", "info");
  d.logging.file = string_or(logging, "file", "");
  json metrics = object_or_empty(doc, "metrics");
  if (metrics.contains("enabled"))
    d.metrics.enabled = metrics["enabled"].get<bool>();
}

} // namespace

Deployment load_deployment_text(const std::string &yaml_text, const std::string &file) {
  YamlDocument yaml = read_yaml_document(yaml_text, file, process_environment());

  Deployment d;
  d.file = file;
  d.document = std::move(yaml.value);
  d.locations = std::move(yaml.locations);
  std::vector<ConfigError> errors = std::move(yaml.errors);

  std::optional<JsonSchema> holder;
  const JsonSchema &schema = deployment_schema_for(deployment_schema_path(), holder);
  for (SchemaViolation &v : schema.validate(d.document)) {
    // A value whose ${VAR} failed already has its error; its placeholder text proves nothing.
    bool from_failed_expansion = std::any_of(yaml.unexpanded.begin(), yaml.unexpanded.end(),
                                             [&](const std::string &p) { return at_or_below(v.pointer, p); });
    if (!from_failed_expansion)
      errors.push_back({d.locate(v.pointer), std::move(v.message)});
  }
  check_unique_ids(d, "agents", "agent", errors);
  check_unique_ids(d, "risk", "risk", errors);
  check_unique_ids(d, "executors", "executor", errors);
  check_unique_ids(d, "audit", "audit sink", errors);
  check_bus(d, errors);

  if (!errors.empty()) {
    std::stable_sort(errors.begin(), errors.end(), [](const ConfigError &a, const ConfigError &b) {
      return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
    });
    throw ConfigErrors(std::move(errors));
  }
  fill(d);
  return d;
}

Deployment load_deployment(const std::string &path) {
  std::string text;
  try {
    text = read_file(path, YamlLimits{}.max_document_bytes);
  } catch (const std::exception &e) {
    throw ConfigErrors({{{path, "", 0, 0}, std::string("cannot read the deployment: ") + e.what()}});
  }
  return load_deployment_text(text, path);
}

} // namespace th
