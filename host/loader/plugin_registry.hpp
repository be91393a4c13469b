// The set of plugin libraries found in the deployment's plugin_dirs.
#pragma once

#include "loader/plugin_library.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace th {

class PluginRegistry {
public:
  // Loads every *.so in the directories (non-recursive, sorted by name). Bad files are refused
  // with a reason and skipped; a duplicate name+version is refused. Missing dirs are refusals too.
  void scan(const std::vector<std::string> &dirs);

  // Loads one more file; nullptr (and a recorded refusal) when refused.
  std::shared_ptr<PluginLibrary> add(const std::filesystem::path &path);

  // The library with this descriptor name (highest version when several), or nullptr.
  std::shared_ptr<PluginLibrary> find(std::string_view name) const;

  std::vector<std::shared_ptr<PluginLibrary>> libraries() const;
  std::vector<LoadRefusal> refusals() const;

  // How scan() and add() load (private copies, allowlist). Set before scan().
  void set_load_options(LoadOptions options);

  // Live changes (hot reload). load_unregistered() loads with the registry's options but does
  // not add (no duplicate check); put() adds a library in place of every library with the same
  // name; remove() forgets one. Instances keep their library alive until destroyed.
  std::shared_ptr<PluginLibrary> load_unregistered(const std::filesystem::path &path,
                                                   LoadRefusal *refusal) const;
  void put(std::shared_ptr<PluginLibrary> library);
  void remove(const std::shared_ptr<PluginLibrary> &library);
  // The library loaded from this file (its original path), or nullptr.
  std::shared_ptr<PluginLibrary> find_by_path(const std::filesystem::path &path) const;

private:
  LoadOptions options_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<PluginLibrary>> libraries_;
  std::vector<LoadRefusal> refusals_;
};

} // namespace th
