// The passphrase of a passphrase source, read from the raw body before it is parsed into a
// document (so an unauthenticated body costs one scan, not a DOM), and removed from the parsed
// body at the path where it was found (so it reaches no audit row and no agent).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace th::gateway {

struct PassphraseScan {
  bool json_ok = true; // false: the text is not JSON (byte: where it failed)
  size_t byte = 0;
  std::optional<std::string> value; // the string at the path; nullopt when absent or not a string
};

// Finds the string at `path` with the rules of find_field (source_mapping.hpp): the whole path
// as one top-level key first, then as nested object keys. Duplicate keys: the last one wins,
// as in the parsed document.
PassphraseScan scan_passphrase(std::string_view text, std::string_view path);

// Removes the field find_field(body, path) finds, and the objects the removal leaves empty.
void erase_found_field(nlohmann::json &body, std::string_view path);

} // namespace th::gateway
