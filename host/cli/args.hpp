// A small command-line parser for the sub-commands: long and short options, flags, positionals.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace th::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::string long_name;  // "--config"
  std::string short_name; // "-c" or ""
  bool takes_value = false;
};

struct ParsedArgs {
  std::map<std::string, std::string> values; // by long name
  std::set<std::string> flags;               // by long name
  std::vector<std::string> positional;

  bool has(const std::string &long_name) const { return flags.count(long_name) || values.count(long_name); }
  std::optional<std::string> value(const std::string &long_name) const {
    auto it = values.find(long_name);
    return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
};

// Accepts "--name value", "--name=value", "-n value". "--help"/"-h" is always a known flag.
// Throws UsageError naming an unknown option or a missing value.
ParsedArgs parse_args(const std::vector<std::string> &args, const std::vector<OptionSpec> &specs);

} // namespace th::cli
