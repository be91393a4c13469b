// Where something is in a deployment file: file, YAML path and line, for every error message.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace th {

struct SourceLocation {
  std::string file;
  std::string yaml_path; // e.g. "agents[1].strategy.params.lookback"
  int line = 0;          // 1-based; 0 when unknown
  int column = 0;        // 1-based; 0 when unknown

  // "configs/dev.yaml:12:5: agents[1].strategy.params.lookback"
  std::string to_string() const;
};

struct ConfigError {
  SourceLocation where;
  std::string message;
  std::string to_string() const; // "<location>: <message>"
};

// Thrown by loaders with every problem found (not just the first).
class ConfigErrors : public std::runtime_error {
public:
  explicit ConfigErrors(std::vector<ConfigError> errors);
  const std::vector<ConfigError> &errors() const { return errors_; }

private:
  std::vector<ConfigError> errors_;
};

} // namespace th
