// JSON pointers (RFC 6901) and their YAML-path spelling, e.g. "/agents/1/strategy/params/lookback"
// <-> "agents[1].strategy.params.lookback", used to say where a value is in a deployment.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace th {

// One reference token escaped for a pointer: "~" -> "~0", "/" -> "~1".
std::string escape_pointer_token(std::string_view token);

// The unescaped tokens of a pointer; "" (the root) has none.
std::vector<std::string> split_pointer(std::string_view pointer);

// The parent of a pointer ("" for the root and its children).
std::string parent_pointer(std::string_view pointer);

// The YAML path of a pointer: array indices as [n] (where the document has an array at that
// point, or the token is a number past the document's end), keys joined with dots, and keys
// that are not plain identifiers quoted: params["a.b"]. The root is "".
std::string yaml_path_of(const nlohmann::json &document, std::string_view pointer);

// One step of a YAML path: a key ("a.b", or a["x.y"] when not a plain identifier) or an index.
std::string yaml_path_key(const std::string &path, std::string_view key);
std::string yaml_path_index(const std::string &path, size_t index);

} // namespace th
