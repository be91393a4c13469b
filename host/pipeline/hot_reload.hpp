// Live changes while the host runs: plugin libraries dropped into, replaced in or removed from
// the plugin directories (inotify), and configuration reloads (SIGHUP, POST /admin/reload).
//
// A new or replaced library is loaded from a private copy (so the file on disk can be
// overwritten safely), checked against the optional allowlist, then:
//   - agents running an older build of it get a new instance with the same params, swapped in
//     between two signals; the old instance finishes its signal, is stopped and destroyed, and
//     the old library is unloaded once nothing references it;
//   - agents of the deployment waiting for it, and auto_agents rules matching it, start.
// A library that fails to load, or whose new instance fails to create or start, changes
// nothing: the old version keeps running and the reason is logged, counted and audited.
#pragma once

#include "config/deployment.hpp"
#include "loader/plugin_registry.hpp"
#include "loader/plugin_watcher.hpp"
#include "pipeline/pipeline.hpp"

#include <memory>
#include <mutex>
#include <string>
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
  std::vector<std::string> allowed_sha256; // plugin_allowlist.sha256
  std::string allowlist_public_key; // plugin_allowlist.public_key: Ed25519 PEM; FILE.sig signs the file
  bool allowlist_enabled() const { return !allowed_sha256.empty() || !allowlist_public_key.empty(); }
};
HotReloadOptions hot_reload_options(const Deployment &);

// How the deployment's libraries are loaded: from private copies under
// <data_dir>/plugin-cache (so a loaded file can be replaced on disk and every version maps from
// its own path), admitted by the allowlist when there is one.
LoadOptions load_options_for(const Deployment &);

// The allowlist's verdict on a library file: "" when allowed, else why not.
std::string allowlist_refusal(const HotReloadOptions &, const std::filesystem::path &file,
                              const std::string &sha256);

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
    std::vector<std::string> notes;   // sections that differ but need a restart
  };
  // Validates config_path fully first; an invalid file changes nothing.
  Result reload(const std::string &config_path);

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
  std::mutex mutex_; // one change at a time
  std::unique_ptr<PluginWatcher> watcher_;
  uint64_t audit_seq_ = 0;
};

} // namespace th
