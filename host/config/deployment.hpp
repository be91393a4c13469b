// A deployment: the YAML file that wires plugins together, after ${VAR} expansion and
// validation against schemas/deployment.schema.json. Sections owned by one component (gateway,
// bus.jetstream) stay as JSON here and are parsed by that component, with locate() for errors.
#pragma once

#include "config/source_location.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace th {

struct PluginRef {
  std::string plugin;         // descriptor name, e.g. "momentum"
  nlohmann::json params;      // object; validated against the plugin's params_schema
  std::string params_pointer; // JSON pointer of params in the document, for locate()
};

struct AgentConfig {
  std::string id;
  PluginRef strategy;
  std::vector<std::string> instruments; // empty = every instrument; "*" and "PREFIX*" globs allowed
  bool enabled = true;
  std::string pointer; // JSON pointer of this agent, e.g. "/agents/0"
};

// A risk check, executor or audit sink: an id plus the plugin that implements it.
struct StageConfig {
  std::string id;
  PluginRef plugin;
  std::string pointer;
};

struct BusConfig {
  std::string kind = "embedded"; // "embedded" | "jetstream"
  size_t queue_capacity = 65536;
  nlohmann::json jetstream; // the bus.jetstream section (object), parsed by the JetStream bus
  // bus.inbox (embedded bus): where the gateway writes what it accepts before answering 200,
  // and whether each group commit is fsynced (power loss) or only written (kill -9).
  std::string inbox_directory; // default data_dir/inbox, absolute
  bool inbox_fsync = false;
};

struct LoggingConfig {
  std::string level = "info"; // debug|info|warn|error
  std::string file;           // empty = stderr
};

struct MetricsConfig {
  bool enabled = true;
};

struct Deployment {
  std::string file; // path as given
  std::string name;
  BusConfig bus;
  std::vector<std::string> plugin_dirs; // resolved to absolute paths
  std::string data_dir;                 // resolved to an absolute path
  std::vector<AgentConfig> agents;
  std::vector<StageConfig> risk; // in order
  std::vector<StageConfig> executors;
  std::vector<StageConfig> audit;
  nlohmann::json gateway; // the gateway section (object, may be empty)
  nlohmann::json admin;   // the admin section (object, may be empty)
  LoggingConfig logging;
  MetricsConfig metrics;

  nlohmann::json document;                                      // the whole expanded document
  std::map<std::string, SourceLocation, std::less<>> locations; // JSON pointer -> location

  // The location of a JSON pointer (the nearest known ancestor when not recorded).
  // yaml_path is always the path of the pointer asked for, e.g. a missing params key.
  SourceLocation locate(std::string_view json_pointer) const;
};

// Reads, expands ${VAR} / ${VAR:-default}, validates against the deployment schema and the
// cross-field rules (unique ids, ...). Throws ConfigErrors naming file, YAML path and line.
// Relative paths (plugin_dirs, data_dir) resolve against the current directory.
Deployment load_deployment(const std::string &path);

// The same from text (tests); `file` is used in messages.
Deployment load_deployment_text(const std::string &yaml_text, const std::string &file);

} // namespace th
