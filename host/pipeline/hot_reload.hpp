// Live changes while the host runs: plugin libraries dropped into, replaced in or removed from
// the plugin directories (inotify), and configuration reloads (SIGHUP, POST /admin/reload).
//
// A new or replaced library is read once, checked against the optional allowlist and loaded
// from a private copy of exactly those bytes (so the file on disk can be overwritten at any
// moment), then:
//   - agents running an older build of it get a new instance with the same params, swapped in
//     between two signals; the old instance finishes its signal, is stopped and destroyed, and
//     the old library is unloaded once nothing references it;
//   - agents of the deployment waiting for it, and auto_agents rules matching it, start.
// A library that fails to load, or whose new instance fails to create or start, changes
// nothing: the old version keeps running and the reason is logged, counted and audited.
#pragma once

#include "config/deployment.hpp"
#include "loader/plugin_allowlist.hpp"
#include "loader/plugin_registry.hpp"
#include "loader/plugin_watcher.hpp"
#include "pipeline/pipeline.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace th {

// The deployment's `hot_reload`, `auto_agents` and `plugin_allowlist` sections.
struct HotReloadOptions {
  bool watch = true;                 // hot_reload.watch
  bool stop_agents_on_remove = true; // hot_reload.on_remove: stop_agents | keep_running
  struct AutoAgent {
    std::vector<std::string> plugins; // descriptor names; "*" and "prefix*" globs
    std::string id_prefix;            // agent id = id_prefix + plugin name
    std::vector<std::string> instruments;
    nlohmann::json params = nlohmann::json::object();
  };
  std::vector<AutoAgent> auto_agents;
  PluginAllowlist allowlist; // plugin_allowlist (loader/plugin_allowlist.hpp)
};
HotReloadOptions hot_reload_options(const Deployment &);

class HotReload {
public:
  // `deployment` is the runtime's: reload() replaces its value.
  HotReload(Deployment &deployment, PluginRegistry &registry, Pipeline &pipeline, StageContext ctx,
            std::string host_corr_id);
  ~HotReload();

  // Starts watching the plugin directories (when hot_reload.watch) and starts auto agents for
  // the strategies already loaded.
  void start();
  void stop_watching();

  // A library file appeared/was replaced (ready) or disappeared (removed).
  void on_change(PluginWatcher::Change change, const std::filesystem::path &file);

  struct Result {
    bool ok = true;
    std::vector<std::string> errors;  // why nothing changed
    std::vector<std::string> changes; // what was applied
    std::vector<std::string> notes;   // what differs from the running host but needs a restart
  };
  // Validates config_path fully first (every live section included); an invalid file changes
  // nothing, and no file, however large or malformed, stops the host (errors in the result).
  Result reload(const std::string &config_path);

  // A section another part of the host applies live (the gateway's sources, the admin tokens).
  // `prepare` reads the next, already validated deployment and says what applying it would
  // change; it throws ConfigErrors (or another std::exception) when the section is unusable, and
  // then nothing at all changes. It is asked on every reload, also when the section's text is
  // unchanged, because secrets may come from files whose content changed.
  struct LiveChange {
    std::vector<std::string> changes;
    std::vector<std::string> notes; // parts of the section that still need a restart
    std::function<void()> apply;    // called once everything validated; must not fail
  };
  using LiveSection = std::function<LiveChange(const Deployment &next)>;
  // Before start(); `section` is then no longer reported as needing a restart.
  void add_live_section(std::string section, LiveSection prepare);

private:
  void start_waiting_agents(const std::shared_ptr<PluginLibrary> &library);
  void audit(const std::string &type, nlohmann::json data);
  void count(const std::string &plugin, const std::string &event);

  Deployment &deployment_;
  PluginRegistry &registry_;
  Pipeline &pipeline_;
  StageContext ctx_;
  std::string host_corr_id_;
  HotReloadOptions options_;
  nlohmann::json running_;          // the document the host started with: what restart-only sections run
  std::filesystem::path cache_dir_; // the private copies (the running data_dir's plugin-cache)
  std::vector<std::pair<std::string, LiveSection>> live_sections_;
  std::mutex mutex_; // one change at a time
  std::unique_ptr<PluginWatcher> watcher_;
  uint64_t audit_seq_ = 0;
};

} // namespace th
