#include "pipeline/hot_reload.hpp"

#include "loader/plugin_params.hpp"
#include "observability/log.hpp"
#include "pipeline/instrument_filter.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>

namespace th {
namespace {

const AgentConfig *find_agent(const Deployment &d, const std::string &id) {
  for (const auto &a : d.agents)
    if (a.id == id)
      return &a;
  return nullptr;
}

bool same_agent(const AgentConfig &a, const AgentConfig &b) {
  return a.strategy.plugin == b.strategy.plugin && a.strategy.params == b.strategy.params &&
         a.instruments == b.instruments && a.enabled == b.enabled;
}

} // namespace

HotReloadOptions hot_reload_options(const Deployment &d) {
  HotReloadOptions o;
  const auto &doc = d.document;
  if (auto it = doc.find("hot_reload"); it != doc.end() && it->is_object()) {
    o.watch = it->value("watch", true);
    o.stop_agents_on_remove = it->value("on_remove", std::string("stop_agents")) != "keep_running";
  }
  if (auto it = doc.find("auto_agents"); it != doc.end() && it->is_array())
    for (const auto &rule : *it) {
      HotReloadOptions::AutoAgent a;
      if (rule.contains("plugins"))
        a.plugins = rule["plugins"].get<std::vector<std::string>>();
      else
        a.plugins = {"*"};
      a.id_prefix = rule.value("id_prefix", std::string());
      if (rule.contains("instruments"))
        a.instruments = rule["instruments"].get<std::vector<std::string>>();
      if (rule.contains("params"))
        a.params = rule["params"];
      o.auto_agents.push_back(std::move(a));
    }
  o.allowlist = plugin_allowlist(d);
  return o;
}

HotReload::HotReload(Deployment &deployment, PluginRegistry &registry, Pipeline &pipeline, StageContext ctx,
                     std::string host_corr_id)
    : deployment_(deployment), registry_(registry), pipeline_(pipeline), ctx_(ctx),
      host_corr_id_(std::move(host_corr_id)), options_(hot_reload_options(deployment)),
      running_(deployment.document), cache_dir_(std::filesystem::path(deployment.data_dir) / "plugin-cache") {
}

void HotReload::add_live_section(std::string section, LiveSection prepare) {
  live_sections_.emplace_back(std::move(section), std::move(prepare));
}

HotReload::~HotReload() {
  watcher_.reset();
}

void HotReload::start() {
  if (!pipeline_.runs_agents())
    return;
  for (const auto &library : registry_.libraries())
    if (library->identity().kind == TH_KIND_STRATEGY)
      start_waiting_agents(library);
  if (options_.watch)
    watcher_ = std::make_unique<PluginWatcher>(
        deployment_.plugin_dirs, [this](PluginWatcher::Change c, const auto &f) { on_change(c, f); });
}

void HotReload::stop_watching() {
  watcher_.reset();
}

void HotReload::audit(const std::string &type, nlohmann::json data) {
  AuditRecord r;
  r.correlation_id = host_corr_id_;
  r.event_type = type;
  r.timestamp_ns = ctx_.clock.now_ns();
  r.service = "plugin-loader";
  r.event_id =
      type + ":" + host_corr_id_ + ":" + std::to_string(++audit_seq_) + ":" + data.value("sha256", "");
  r.data_json = data.dump();
  Message m{Subject::audit_event, std::move(r), {}};
  m.msg_id = std::get<AuditRecord>(m.payload).event_id;
  ctx_.bus.publish(m);
}

void HotReload::count(const std::string &plugin, const std::string &event) {
  ctx_.metrics.plugin_events.Add({{"plugin", plugin}, {"event", event}}).Increment();
}

void HotReload::start_waiting_agents(const std::shared_ptr<PluginLibrary> &library) {
  const std::string &name = library->identity().name;
  for (const auto &a : deployment_.agents)
    if (a.enabled && a.strategy.plugin == name && !pipeline_.agents().has_agent(a.id))
      if (auto problem = pipeline_.start_agent(a, library); !problem.empty())
        log::error("agent_start_failed", {{"agent", a.id}, {"reason", problem}});
  for (const auto &rule : options_.auto_agents) {
    if (rule.plugins.empty() || !InstrumentFilter(rule.plugins).matches(name)) // "*" / "prefix*" globs
      continue;
    AgentConfig a;
    a.id = rule.id_prefix + name;
    a.strategy.plugin = name;
    a.strategy.params = rule.params;
    a.instruments = rule.instruments;
    if (pipeline_.agents().has_agent(a.id))
      continue;
    if (auto problem = pipeline_.start_agent(a, library); !problem.empty())
      log::error("agent_start_failed", {{"agent", a.id}, {"reason", problem}});
  }
}

void HotReload::on_change(PluginWatcher::Change change, const std::filesystem::path &file) {
  std::lock_guard lock(mutex_);
  if (change == PluginWatcher::Change::removed) {
    auto library = registry_.find_by_path(file);
    if (!library)
      return;
    const auto id = library->identity();
    auto users = pipeline_.agents().agents_using(id.name);
    if (!options_.stop_agents_on_remove && !users.empty()) {
      log::warn("plugin_file_removed",
                {{"path", file.string()},
                 {"agents", users},
                 {"note", "agents keep running (hot_reload.on_remove: keep_running)"}});
      return;
    }
    for (const auto &agent : users) {
      pipeline_.stop_agent(agent);
      if (const AgentConfig *cfg = find_agent(deployment_, agent))
        pipeline_.mark_waiting(*cfg); // it starts again when the plugin comes back
    }
    registry_.remove(library);
    std::weak_ptr<PluginLibrary> weak = library;
    library.reset();
    log::info("plugin_removed", {{"plugin", id.name},
                                 {"version", id.version},
                                 {"path", file.string()},
                                 {"agents_stopped", users},
                                 {"unloaded", weak.expired()}});
    count(id.name, "unloaded");
    audit("plugin_unloaded", {{"plugin", id.name},
                              {"version", id.version},
                              {"sha256", id.sha256},
                              {"path", file.string()},
                              {"agents_stopped", users}});
    return;
  }

  // The registry's options carry the allowlist: it judges the bytes before anything is mapped.
  LoadRefusal refusal;
  auto library = registry_.load_unregistered(file, &refusal);
  if (!library) {
    log::error("plugin_refused", {{"path", file.string()}, {"reason", refusal.reason}});
    count(file.stem().string(), "refused");
    audit("error_occurred",
          {{"action", "plugin_refused"}, {"path", file.string()}, {"reason", refusal.reason}});
    return;
  }
  const PluginIdentity &id = library->identity();
  auto previous = registry_.find(id.name);
  if (previous && previous->identity().sha256 == id.sha256)
    return; // the same bytes again
  if (previous && previous->identity().kind != id.kind) {
    log::error("plugin_refused",
               {{"path", file.string()}, {"reason", "kind differs from the loaded " + id.name}});
    count(id.name, "refused");
    return;
  }

  auto users = pipeline_.agents().agents_using(id.name);
  std::vector<std::string> swapped;
  std::vector<AgentConfig> swapped_configs;
  for (const auto &agent_id : users) {
    const AgentConfig *cfg = find_agent(deployment_, agent_id);
    AgentConfig auto_cfg;
    if (!cfg) { // an auto agent: same params as the rule that made it
      for (const auto &rule : options_.auto_agents)
        if (rule.id_prefix + id.name == agent_id) {
          auto_cfg.id = agent_id;
          auto_cfg.strategy.plugin = id.name;
          auto_cfg.strategy.params = rule.params;
          auto_cfg.instruments = rule.instruments;
          cfg = &auto_cfg;
        }
    }
    if (!cfg)
      continue;
    if (auto problem = pipeline_.replace_agent(*cfg, library); !problem.empty()) {
      // All or nothing: agents already moved to the new build go back to the running one.
      for (const auto &back : swapped_configs)
        pipeline_.replace_agent(back, previous);
      log::error("plugin_swap_failed", {{"plugin", id.name},
                                        {"version", id.version},
                                        {"agent", agent_id},
                                        {"reason", problem},
                                        {"note", "the running version stays"}});
      count(id.name, "refused");
      audit("error_occurred", {{"action", "plugin_swap_failed"},
                               {"plugin", id.name},
                               {"sha256", id.sha256},
                               {"agent", agent_id},
                               {"reason", problem}});
      return;
    }
    swapped.push_back(agent_id);
    swapped_configs.push_back(*cfg);
  }
  registry_.put(library);
  std::weak_ptr<PluginLibrary> old = previous;
  std::string old_version = previous ? previous->identity().version : "";
  std::string old_sha = previous ? previous->identity().sha256 : "";
  previous.reset();
  log::info(swapped.empty() && old_sha.empty() ? "plugin_loaded" : "plugin_swapped",
            {{"plugin", id.name},
             {"version", id.version},
             {"sha256", id.sha256},
             {"path", file.string()},
             {"agents", swapped},
             {"previous_version", old_version},
             {"previous_unloaded", old.expired()}});
  count(id.name, old_sha.empty() ? "loaded" : "swapped");
  audit("plugin_loaded", {{"action", old_sha.empty() ? "loaded" : "swapped"},
                          {"plugin", id.name},
                          {"version", id.version},
                          {"sha256", id.sha256},
                          {"path", file.string()},
                          {"previous_sha256", old_sha},
                          {"agents", swapped}});
  if (!old_sha.empty())
    audit("plugin_unloaded",
          {{"plugin", id.name}, {"version", old_version}, {"sha256", old_sha}, {"unloaded", old.expired()}});
  if (id.kind == TH_KIND_STRATEGY && pipeline_.runs_agents())
    start_waiting_agents(library);
}

namespace {

// Libraries already running that `allowlist` would not admit now (their private copies are
// judged; FILE.sig beside the original file).
std::vector<std::string> running_but_not_admitted(const PluginRegistry &registry,
                                                  const PluginAllowlist &allowlist) {
  std::vector<std::string> names;
  if (!allowlist.enabled())
    return names;
  for (const auto &library : registry.libraries()) {
    const PluginIdentity &id = library->identity();
    std::ifstream in(id.loaded_from, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!allowlist_refusal(allowlist, id.path, id.sha256, bytes).empty())
      names.push_back(id.name + " " + id.version);
  }
  return names;
}

} // namespace

HotReload::Result HotReload::reload(const std::string &config_path) {
  std::lock_guard lock(mutex_);
  Result result;
  Deployment next;
  std::vector<LiveChange> live;
  // Nothing in a reload may take the host down: every failure is an error in the result.
  try {
    next = load_deployment(config_path);
    std::vector<ConfigError> waiting; // agents whose plugin is not loaded: they wait for it
    for (const auto &err : validate_plugin_params(next, registry_, &waiting))
      result.errors.push_back(err.to_string());
    for (const auto &w : waiting)
      result.notes.push_back(w.to_string());
    for (const auto &[section, prepare] : live_sections_) {
      try {
        live.push_back(prepare(next));
      } catch (const ConfigErrors &e) {
        for (const auto &err : e.errors())
          result.errors.push_back(err.to_string());
      } catch (const std::exception &e) {
        result.errors.push_back(config_path + ": " + section + ": " + e.what());
      }
    }
  } catch (const ConfigErrors &e) {
    for (const auto &err : e.errors())
      result.errors.push_back(err.to_string());
  } catch (const std::exception &e) {
    result.errors.push_back(config_path + ": cannot be loaded: " + e.what());
  }
  if (!result.errors.empty()) {
    result.ok = false;
    log::error("reload_refused", {{"file", config_path}, {"errors", result.errors}});
    return result;
  }

  // Compared with what runs, not with the previous file: a pending change is reported on every
  // reload until the host restarts.
  for (const char *section :
       {"risk", "executors", "audit", "gateway", "bus", "plugin_dirs", "data_dir", "admin"}) {
    bool live_section = std::any_of(live_sections_.begin(), live_sections_.end(),
                                    [&](const auto &s) { return s.first == section; });
    if (!live_section &&
        running_.value(section, nlohmann::json()) != next.document.value(section, nlohmann::json()))
      result.notes.push_back(std::string(section) + " changed: takes effect after a restart");
  }
  if (pipeline_.runs_agents()) {
    for (const auto &old : deployment_.agents) {
      const AgentConfig *now = find_agent(next, old.id);
      if (!now || !now->enabled) {
        if (pipeline_.agents().has_agent(old.id) && pipeline_.stop_agent(old.id).empty())
          result.changes.push_back("agent " + old.id + " stopped");
      }
    }
    for (const auto &agent : next.agents) {
      if (!agent.enabled)
        continue;
      const AgentConfig *before = find_agent(deployment_, agent.id);
      std::string problem;
      if (!registry_.find(agent.strategy.plugin)) {
        if (pipeline_.agents().has_agent(agent.id) && pipeline_.stop_agent(agent.id).empty())
          result.changes.push_back("agent " + agent.id + " stopped");
        pipeline_.mark_waiting(agent);
        result.changes.push_back("agent " + agent.id + " waits for plugin " + agent.strategy.plugin);
      } else if (!before || !pipeline_.agents().has_agent(agent.id)) {
        problem = pipeline_.start_agent(agent);
        if (problem.empty())
          result.changes.push_back("agent " + agent.id + " started");
      } else if (!same_agent(*before, agent)) {
        problem = pipeline_.replace_agent(agent);
        if (problem.empty())
          result.changes.push_back("agent " + agent.id + " restarted with new settings");
      }
      if (!problem.empty())
        result.errors.push_back(problem);
    }
  }
  for (auto &change : live) {
    change.apply();
    result.changes.insert(result.changes.end(), change.changes.begin(), change.changes.end());
    result.notes.insert(result.notes.end(), change.notes.begin(), change.notes.end());
  }
  // The allowlist judges every library loaded from now on; the private copies stay where they are.
  HotReloadOptions next_options = hot_reload_options(next);
  if (next_options.allowlist.sha256 != options_.allowlist.sha256 ||
      next_options.allowlist.public_key != options_.allowlist.public_key)
    result.changes.push_back("plugin_allowlist replaced");
  registry_.set_load_options(load_options_for(next, cache_dir_));
  for (const auto &name : running_but_not_admitted(registry_, next_options.allowlist))
    result.notes.push_back("plugin " + name +
                           " runs but the plugin_allowlist no longer admits it: remove it or restart");
  deployment_ = std::move(next);
  options_ = std::move(next_options);
  result.ok = result.errors.empty();
  log::info("reloaded", {{"file", config_path},
                         {"changes", result.changes},
                         {"notes", result.notes},
                         {"errors", result.errors}});
  audit("config_loaded", {{"file", config_path}, {"changes", result.changes}, {"errors", result.errors}});
  return result;
}

} // namespace th
