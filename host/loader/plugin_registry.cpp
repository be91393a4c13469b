#include "loader/plugin_registry.hpp"

#include "observability/log.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <system_error>

namespace th {
namespace {

// Semantic-version order on major.minor.patch; a pre-release sorts before its release.
// Versions were validated at load, so the numeric parts parse.
bool version_less(std::string_view a, std::string_view b) {
  auto split = [](std::string_view v, std::array<unsigned long, 3> &numbers) {
    size_t pos = 0;
    for (auto &n : numbers) {
      auto [end, ec] = std::from_chars(v.data() + pos, v.data() + v.size(), n);
      (void)ec;
      pos = static_cast<size_t>(end - v.data()) + 1;
    }
    auto dash = v.find('-');
    auto plus = v.find('+');
    return dash != std::string_view::npos && (plus == std::string_view::npos || dash < plus)
               ? v.substr(dash + 1, plus == std::string_view::npos ? std::string_view::npos : plus - dash - 1)
               : std::string_view();
  };
  std::array<unsigned long, 3> na{}, nb{};
  std::string_view pa = split(a, na), pb = split(b, nb);
  if (na != nb)
    return na < nb;
  if (pa.empty() != pb.empty())
    return !pa.empty(); // 1.0.0-rc1 < 1.0.0
  return pa < pb;
}

nlohmann::json identity_fields(const PluginIdentity &id) {
  return {{"plugin", id.name},
          {"version", id.version},
          {"kind", kind_name(id.kind)},
          {"abi", std::to_string(id.abi_major) + "." + std::to_string(id.abi_minor)},
          {"path", id.path.string()},
          {"sha256", id.sha256}};
}

} // namespace

void PluginRegistry::scan(const std::vector<std::string> &dirs) {
  for (const auto &dir : dirs) {
    std::error_code error;
    std::vector<std::filesystem::path> files;
    if (!std::filesystem::is_directory(dir, error)) {
      std::lock_guard lock(mutex_);
      refusals_.push_back({dir, dir + ": plugin directory does not exist or is not a directory"});
      log::warn("plugin_dir_missing", {{"path", dir}});
      continue;
    }
    for (std::filesystem::directory_iterator it(dir, error), end; !error && it != end; it.increment(error))
      if (it->path().extension() == ".so")
        files.push_back(it->path());
    if (error) {
      std::lock_guard lock(mutex_);
      refusals_.push_back({dir, dir + ": cannot list plugin directory: " + error.message()});
      log::warn("plugin_dir_unreadable", {{"path", dir}, {"error", error.message()}});
    }
    std::sort(files.begin(), files.end());
    for (const auto &file : files)
      add(file);
  }
}

std::shared_ptr<PluginLibrary> PluginRegistry::add(const std::filesystem::path &path) {
  LoadRefusal refusal;
  auto library = load_plugin_library(path, &refusal, options_);
  std::lock_guard lock(mutex_);
  if (library) {
    const PluginIdentity &id = library->identity();
    for (const auto &existing : libraries_) {
      const PluginIdentity &other = existing->identity();
      if (other.name == id.name && other.version == id.version) {
        refusal = {id.path, id.path.string() + ": duplicate plugin " + id.name + " " + id.version +
                                " (already loaded from " + other.path.string() + ")"};
        library.reset();
        break;
      }
    }
  }
  if (!library) {
    log::warn("plugin_refused", {{"path", refusal.path.string()}, {"reason", refusal.reason}});
    refusals_.push_back(std::move(refusal));
    return nullptr;
  }
  log::info("plugin_loaded", identity_fields(library->identity()));
  libraries_.push_back(library);
  return library;
}

std::shared_ptr<PluginLibrary> PluginRegistry::find(std::string_view name) const {
  std::lock_guard lock(mutex_);
  std::shared_ptr<PluginLibrary> best;
  for (const auto &library : libraries_)
    if (library->identity().name == name &&
        (!best || version_less(best->identity().version, library->identity().version)))
      best = library;
  return best;
}

std::vector<std::shared_ptr<PluginLibrary>> PluginRegistry::libraries() const {
  std::lock_guard lock(mutex_);
  return libraries_;
}

std::vector<LoadRefusal> PluginRegistry::refusals() const {
  std::lock_guard lock(mutex_);
  return refusals_;
}

void PluginRegistry::set_load_options(LoadOptions options) {
  std::lock_guard lock(mutex_);
  options_ = std::move(options);
}

std::shared_ptr<PluginLibrary> PluginRegistry::load_unregistered(const std::filesystem::path &path,
                                                                 LoadRefusal *refusal) const {
  LoadOptions options;
  {
    std::lock_guard lock(mutex_);
    options = options_;
  }
  return load_plugin_library(path, refusal, options);
}

void PluginRegistry::put(std::shared_ptr<PluginLibrary> library) {
  std::lock_guard lock(mutex_);
  const std::string &name = library->identity().name;
  std::erase_if(libraries_, [&](const auto &l) { return l->identity().name == name; });
  libraries_.push_back(std::move(library));
}

void PluginRegistry::remove(const std::shared_ptr<PluginLibrary> &library) {
  std::lock_guard lock(mutex_);
  std::erase(libraries_, library);
}

std::shared_ptr<PluginLibrary> PluginRegistry::find_by_path(const std::filesystem::path &path) const {
  std::error_code error;
  auto absolute = std::filesystem::absolute(path, error).lexically_normal();
  std::lock_guard lock(mutex_);
  for (const auto &l : libraries_)
    if (l->identity().path == absolute)
      return l;
  return nullptr;
}

} // namespace th
