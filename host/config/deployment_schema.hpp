// Where schemas/deployment.schema.json is: $TRADEHOST_SCHEMA_DIR when set (only there), else the source tree
// the host was built from, else the installed /usr/share/tradehost/schemas.
#pragma once

#include <filesystem>

namespace th {

// The deployment schema's path; throws std::runtime_error naming the places looked at when absent.
std::filesystem::path deployment_schema_path();

} // namespace th
