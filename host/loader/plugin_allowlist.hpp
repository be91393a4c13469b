// The deployment's plugin_allowlist: which library files may be mapped at all. A file is
// admitted when its SHA-256 is listed or FILE.sig holds an Ed25519 signature of its bytes by
// public_key. The loader asks before mapping anything, with the bytes it read once and copies
// (loader/plugin_library.hpp); every command that maps a deployment's libraries (run, replay,
// plugins, validate) loads through load_options_for(), so an unlisted library runs no code.
#pragma once

#include "config/deployment.hpp"
#include "loader/plugin_library.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace th {

struct PluginAllowlist {
  std::vector<std::string> sha256; // plugin_allowlist.sha256
  std::string public_key;          // plugin_allowlist.public_key: an Ed25519 PEM file, read at each check
  bool enabled() const { return !sha256.empty() || !public_key.empty(); }
};
PluginAllowlist plugin_allowlist(const Deployment &);

// The allowlist's verdict on a library's bytes (read from `file`): "" when allowed, else why not.
std::string allowlist_refusal(const PluginAllowlist &, const std::filesystem::path &file,
                              const std::string &sha256, std::string_view bytes);

// How a deployment's libraries are loaded: from private copies under `cache_dir` (by default
// <data_dir>/plugin-cache), admitted by the allowlist when there is one.
LoadOptions load_options_for(const Deployment &);
LoadOptions load_options_for(const Deployment &, const std::filesystem::path &cache_dir);

// A private cache directory (mode 0700) for commands that map libraries without running the host
// and may not write the data_dir (`plugins`, `validate`); removed with everything in it.
class TemporaryPluginCache {
public:
  TemporaryPluginCache(); // throws std::runtime_error when no directory can be made
  ~TemporaryPluginCache();
  TemporaryPluginCache(const TemporaryPluginCache &) = delete;
  TemporaryPluginCache &operator=(const TemporaryPluginCache &) = delete;
  const std::filesystem::path &path() const { return path_; }

private:
  std::filesystem::path path_;
};

} // namespace th
