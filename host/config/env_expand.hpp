// ${VAR} and ${VAR:-default} expansion in deployment scalars, with $$ for a literal dollar.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace th {

// Returns a variable's value, or nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string &name)>;

// Looks variables up in the process environment (getenv).
EnvLookup process_environment();

struct EnvExpansion {
  std::string text;                // the expanded text (references that failed expand to "")
  bool whole_reference = false;    // the input was exactly one ${...} and nothing else
  std::vector<std::string> errors; // e.g. "environment variable API_KEY is not set"
};

// Expands every ${NAME} (an error when NAME is unset; empty is a value) and ${NAME:-default}
// (the default, itself expanded, when NAME is unset or empty). "$$" is one "$"; any other "$"
// is kept. Values are inserted as they are, never expanded again. NAME is [A-Za-z_][A-Za-z0-9_]*.
EnvExpansion expand_env(std::string_view text, const EnvLookup &lookup);

} // namespace th
