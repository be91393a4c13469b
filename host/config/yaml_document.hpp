// A YAML file read into JSON, with where every value came from and ${VAR} expansion applied to
// scalars. The deployment loader validates the JSON and uses the locations in its messages.
#pragma once

#include "config/env_expand.hpp"
#include "config/source_location.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace th {

struct YamlDocument {
  nlohmann::json value;
  // JSON pointer -> location. Scalars point at the value; mappings, sequences and empty values
  // at their key (the line that names them).
  std::map<std::string, SourceLocation, std::less<>> locations;
  // Problems that did not stop reading: unset variables, duplicate keys, bad references.
  std::vector<ConfigError> errors;
  // Pointers of scalars whose expansion failed (their value is the partial text).
  std::set<std::string> unexpanded;
};

// What one deployment file may hold. A YAML alias costs nothing to parse but is copied each time
// it is used, so a few lines can stand for billions of values ("billion laughs"): every value
// produced (aliases expanded) counts, and reading stops with an error at the first limit passed.
struct YamlLimits {
  size_t max_document_bytes = 4u << 20; // the file's text
  size_t max_values = 100'000;          // scalars, mappings and sequences, aliases expanded
  size_t max_depth = 64;                // mappings and sequences inside each other
  size_t max_text_bytes = 16u << 20;    // all keys and scalars after alias and ${VAR} expansion
};

// Reads YAML text (one document; more is an error). Plain scalars take YAML 1.2 core types (null, true/false,
// integers incl. 0x/0o, floats); quoted and block scalars are strings; "<<" merge keys are applied.
// A plain scalar that is exactly one ${...} is typed after expansion (an empty result is "");
// other scalars that contain a reference are strings. Throws ConfigErrors (one error, with line and column)
// on bad syntax or a limit passed.
YamlDocument read_yaml_document(std::string_view text, const std::string &file, const EnvLookup &env,
                                const YamlLimits &limits = {});

// The YAML 1.2 core-schema value of a plain scalar.
nlohmann::json resolve_plain_scalar(const std::string &text);

} // namespace th
