// Structured logs: one JSON object per line with ts, level, event, corr_id (when known) and
// fields. Never pass secrets in fields. Thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace th::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

std::optional<Level> level_from_name(std::string_view);
void set_level(Level);
// Appends to this file instead of stderr; throws std::runtime_error when it cannot be opened.
void set_file(const std::string &path);

bool enabled(Level);
void write(Level, std::string_view event, const nlohmann::json &fields = nlohmann::json::object(),
           std::string_view corr_id = {});

inline void debug(std::string_view e, const nlohmann::json &f = nlohmann::json::object(),
                  std::string_view c = {}) {
  if (enabled(Level::debug))
    write(Level::debug, e, f, c);
}
inline void info(std::string_view e, const nlohmann::json &f = nlohmann::json::object(),
                 std::string_view c = {}) {
  write(Level::info, e, f, c);
}
inline void warn(std::string_view e, const nlohmann::json &f = nlohmann::json::object(),
                 std::string_view c = {}) {
  write(Level::warn, e, f, c);
}
inline void error(std::string_view e, const nlohmann::json &f = nlohmann::json::object(),
                  std::string_view c = {}) {
  write(Level::error, e, f, c);
}

} // namespace th::log
