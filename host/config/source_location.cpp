#include "config/source_location.hpp"

namespace th {

std::string SourceLocation::to_string() const {
  std::string s = file;
  if (line > 0) {
    s += ":" + std::to_string(line);
    if (column > 0)
      s += ":" + std::to_string(column);
  }
  if (!yaml_path.empty())
    s += (s.empty() ? "" : ": ") + yaml_path;
  return s;
}

std::string ConfigError::to_string() const {
  std::string w = where.to_string();
  return w.empty() ? message : w + ": " + message;
}

namespace {
std::string summarize(const std::vector<ConfigError> &errors) {
  std::string s;
  for (auto &e : errors) {
    if (!s.empty())
      s += "\n";
    s += e.to_string();
  }
  return s;
}
} // namespace

ConfigErrors::ConfigErrors(std::vector<ConfigError> errors)
    : std::runtime_error(summarize(errors)), errors_(std::move(errors)) {}

} // namespace th
