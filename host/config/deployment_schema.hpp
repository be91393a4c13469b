// Where schemas/deployment.schema.json is: $TRADEHOST_SCHEMA_DIR when set (only there), else the source tree
// the host was built from, else the installed /usr/share/tradehost/schemas.
#pragma once

#include <filesystem>
#include <string_view>

namespace th {

// A schema file's path (e.g. "signal.schema.json"); throws std::runtime_error naming the places
// looked at when absent.
std::filesystem::path schema_path(std::string_view file_name);

// The deployment schema's path.
std::filesystem::path deployment_schema_path();

} // namespace th
