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

private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<PluginLibrary>> libraries_;
  std::vector<LoadRefusal> refusals_;
};

} // namespace th
