#include "pipeline/hot_reload.hpp"

#include "loader/plugin_params.hpp"
#include "observability/log.hpp"
#include "pipeline/instrument_filter.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>

namespace th {
namespace {

std::string read_file(const std::filesystem::path &p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Ed25519 signature (raw 64 bytes, FILE.sig) of the file's bytes with the PEM public key.
bool signature_valid(const std::string &public_key_file, const std::filesystem::path &file) {
  FILE *f = std::fopen(public_key_file.c_str(), "r");
  if (!f)
    return false;
  EVP_PKEY *key = PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!key)
    return false;
  std::string data = read_file(file), sig = read_file(file.string() + ".sig");
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char *>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char *>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

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
  if (auto it = doc.find("plugin_allowlist"); it != doc.end() && it->is_object()) {
    if (it->contains("sha256"))
      o.allowed_sha256 = (*it)["sha256"].get<std::vector<std::string>>();
    o.allowlist_public_key = it->value("public_key", std::string());
  }
  return o;
}

std::string allowlist_refusal(const HotReloadOptions &o, const std::filesystem::path &file,
                              const std::string &sha256) {
  if (!o.allowlist_enabled())
    return "";
  if (std::find(o.allowed_sha256.begin(), o.allowed_sha256.end(), sha256) != o.allowed_sha256.end())
    return "";
  if (!o.allowlist_public_key.empty() && signature_valid(o.allowlist_public_key, file))
    return "";
  return file.string() + ": not on the plugin allowlist (sha256 " + sha256 + " is not listed" +
         (o.allowlist_public_key.empty() ? ""
                                         : " and " + file.string() + ".sig is missing or does not verify") +
         ")";
}

LoadOptions load_options_for(const Deployment &d) {
  HotReloadOptions reload_options = hot_reload_options(d);
  LoadOptions load_options;
  load_options.cache_dir = std::filesystem::path(d.data_dir) / "plugin-cache";
  if (reload_options.allowlist_enabled())
    load_options.admit = [reload_options](const std::filesystem::path &file, const std::string &sha256) {
      return allowlist_refusal(reload_options, file, sha256);
    };
  return load_options;
}

HotReload::HotReload(Deployment &deployment, PluginRegistry &registry, Pipeline &pipeline, StageContext ctx,
                     std::string host_corr_id)
    : deployment_(deployment), registry_(registry), pipeline_(pipeline), ctx_(ctx),
      host_corr_id_(std::move(host_corr_id)), options_(hot_reload_options(deployment)) {}

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
    for (const auto &agent : users)
      pipeline_.stop_agent(agent);
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

  LoadRefusal refusal;
  auto library = registry_.load_unregistered(file, &refusal);
  if (library) {
    if (auto why = allowlist_refusal(options_, file, library->identity().sha256); !why.empty()) {
      refusal = {file, why};
      library.reset();
    }
  }
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

HotReload::Result HotReload::reload(const std::string &config_path) {
  std::lock_guard lock(mutex_);
  Result result;
  Deployment next;
  try {
    next = load_deployment(config_path);
  } catch (const ConfigErrors &e) {
    for (const auto &err : e.errors())
      result.errors.push_back(err.to_string());
  }
  if (result.errors.empty())
    for (const auto &err : validate_plugin_params(next, registry_))
      result.errors.push_back(err.to_string());
  if (!result.errors.empty()) {
    result.ok = false;
    log::error("reload_refused", {{"file", config_path}, {"errors", result.errors}});
    return result;
  }

  for (const char *section :
       {"risk", "executors", "audit", "gateway", "bus", "plugin_dirs", "data_dir", "admin"}) {
    auto a = deployment_.document.value(section, nlohmann::json()),
         b = next.document.value(section, nlohmann::json());
    if (a != b)
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
      if (!before || !pipeline_.agents().has_agent(agent.id)) {
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
  deployment_ = std::move(next);
  options_ = hot_reload_options(deployment_);
  result.ok = result.errors.empty();
  log::info("reloaded", {{"file", config_path},
                         {"changes", result.changes},
                         {"notes", result.notes},
                         {"errors", result.errors}});
  audit("config_loaded", {{"file", config_path}, {"changes", result.changes}, {"errors", result.errors}});
  return result;
}

} // namespace th
